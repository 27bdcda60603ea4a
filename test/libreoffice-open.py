"""Open a workbook in LibreOffice (headless, through UNO) with a password, as a user would.

Usage: python3 libreoffice-open.py FILE PASSWORD PORT
Prints OPENED <sheet names> <text of B2 of the first sheet>, or REFUSED when LibreOffice cannot
open it with that password. Used by test/encrypted-workbooks.test.ts.
"""
import os
import sys

import uno
from libreoffice_session import office_desktop, prop


def main():
    file, password, port = sys.argv[1], sys.argv[2], sys.argv[3]
    with office_desktop(port) as desktop:
        if desktop is None:
            print('NO LIBREOFFICE')
            return
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


main()
