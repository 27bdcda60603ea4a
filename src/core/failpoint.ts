/**
 * Failpoints for the tests of what a kill or a full disk leaves behind: when the environment
 * variable BIDUI_FAILPOINT names this point, the process is killed here (SIGKILL, as `kill -9`
 * or a power cut would), or with `<name>:enospc` the next write fails as on a full disk. Unset
 * in normal use; the names are listed where they are placed (grep `failpoint(`).
 */
export function failpoint(name: string): void {
  const set = process.env.BIDUI_FAILPOINT;
  if (set === undefined || set === '') return;
  if (set === name) process.kill(process.pid, 'SIGKILL');
  if (set === `${name}:enospc`) {
    throw Object.assign(new Error(`ENOSPC: no space left on device, write (failpoint ${name})`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
}
