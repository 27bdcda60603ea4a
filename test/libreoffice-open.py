"""Open a workbook in LibreOffice (headless, through UNO) with a password, as a user would.

Usage: python3 libreoffice-open.py FILE PASSWORD PORT
Prints OPENED <sheet names> <text of B2 of the first sheet>, or REFUSED when LibreOffice cannot
open it with that password. Used by test/encrypted-workbooks.test.ts.
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
    file, password, port = sys.argv[1], sys.argv[2], sys.argv[3]
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
        if ctx is None:
            print('NO LIBREOFFICE')
            return
        desktop = ctx.ServiceManager.createInstanceWithContext('com.sun.star.frame.Desktop', ctx)
        url = uno.systemPathToFileUrl(os.path.abspath(file))
        try:
            doc = desktop.loadComponentFromURL(url, '_blank', 0, (prop('Hidden', True), prop('Password', password)))
        except Exception:
            doc = None
        if doc is None:
            print('REFUSED')
            return
        sheet = doc.Sheets.getByIndex(0)
        print('OPENED', ','.join(doc.Sheets.ElementNames), sheet.getCellByPosition(1, 1).String)
        doc.close(True)
    finally:
        office.terminate()
        office.wait()


main()
