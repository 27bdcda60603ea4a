"""Open workbooks in LibreOffice (headless, UNO) and count the rows of the four lead sheets that
are shorter than LibreOffice's own optimal height for their content (they would print cut off).

Usage: python3 libreoffice-row-heights.py PORT FILE...
Prints: ROWS <rows checked> SHORT <rows too short>, then one line per short row.
Used by test/print.test.ts.
"""
import os
import sys

import uno
from libreoffice_session import office_desktop, prop


def main():
    port, files = sys.argv[1], sys.argv[2:]
    with office_desktop(port) as desktop:
        if desktop is None:
            print('NO LIBREOFFICE')
            return
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


main()
