/**
 * Failpoints for the tests of what a kill or a full disk leaves behind: when the environment
 * variable BIDUI_FAILPOINT names this point, the process is killed here (SIGKILL, as `kill -9`
 * or a power cut would); with `<name>:enospc` it fails as a write on a full disk does, and with
 * `<name>:throw` as a bug would (a plain Error). Unset
 * in normal use; the names are listed where they are placed (grep `failpoint(`).
 */
export function failpoint(name: string): void {
  const set = process.env.BIDUI_FAILPOINT;
  if (set === undefined || set === '') return;
  if (set === name) process.kill(process.pid, 'SIGKILL');
  if (set === `${name}:enospc`) {
    throw Object.assign(new Error(`ENOSPC: no space left on device, write (failpoint ${name})`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
  if (set === `${name}:throw`) throw new TypeError(`failpoint ${name}: a simulated bug`);
}
