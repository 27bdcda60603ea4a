"""A headless LibreOffice for the test scripts: started on a port with its own profile, reached
through UNO, stopped (and its profile removed) afterwards. Shared by libreoffice-open.py and
libreoffice-row-heights.py.
"""
import contextlib
import shutil
import subprocess
import tempfile
import time

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


@contextlib.contextmanager
def office_desktop(port):
    """Yields LibreOffice's Desktop, or None when it did not answer within a minute."""
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
        yield None if ctx is None else ctx.ServiceManager.createInstanceWithContext('com.sun.star.frame.Desktop', ctx)
    finally:
        office.terminate()
        office.wait()
        shutil.rmtree(profile, ignore_errors=True)
