"""Open workbooks in LibreOffice (headless, UNO) and count the rows of the four lead sheets that
are shorter than LibreOffice's own optimal height for their content (they would print cut off).

Usage: python3 libreoffice-row-heights.py PORT FILE...
Prints: ROWS <rows checked> SHORT <rows too short>, then one line per short row.
Used by test/print.test.ts.
"""
import os
import subprocess
import sys
import tempfile
import time

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def main():
    port, files = sys.argv[1], sys.argv[2:]
    profile = tempfile.mkdtemp(prefix='lo-profile-')
    office = subprocess.Popen(['soffice', '--headless', '--invisible', '--norestore', '--nologo',
                               f'-env:UserInstallation=file://{profile}',
                               f'--accept=socket,host=127.0.0.1,port={port};urp;'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext('com.sun.star.bridge.UnoUrlResolver', local)
        ctx = None
        for _ in range(240):
            try:
                ctx = resolver.resolve(f'uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext')
                break
            except Exception:
                time.sleep(0.25)
        desktop = ctx.ServiceManager.createInstanceWithContext('com.sun.star.frame.Desktop', ctx)
        checked, short = 0, []
        for file in files:
            doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(os.path.abspath(file)), '_blank', 0, (prop('Hidden', True),))
            for index in range(4):
                sheet = doc.Sheets.getByIndex(index)
                cursor = sheet.createCursor()
                cursor.gotoEndOfUsedArea(False)
                for r in range(cursor.RangeAddress.EndRow + 1):
                    row = sheet.Rows.getByIndex(r)
                    height = row.Height
                    row.OptimalHeight = True
                    checked += 1
                    # 1/100 mm; a little slack for rounding.
                    if row.Height > height + 20:
                        short.append(f'{os.path.basename(file)} {sheet.Name} row {r + 1}: {height} < {row.Height}')
            doc.close(True)
        print('ROWS', checked, 'SHORT', len(short))
        for line in short:
            print(line)
    finally:
        office.terminate()
        office.wait()


main()
