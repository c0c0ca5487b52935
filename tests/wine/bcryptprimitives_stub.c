/* Test-only stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks.
 * Rust's standard library (1.78 and later) gets random bytes from its
 * ProcessPrng export (https://learn.microsoft.com/en-us/windows/win32/seccng/processprng);
 * this one forwards to RtlGenRandom (advapi32's SystemFunction036,
 * https://learn.microsoft.com/en-us/windows/win32/api/ntsecapi/nf-ntsecapi-rtlgenrandom),
 * which Wine has. Built by .ci/steps/wine.sh and placed next to the exe under
 * test only; never shipped. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    for (; len > 0x40000000; data += 0x40000000, len -= 0x40000000)
        if (!SystemFunction036(data, 0x40000000)) return FALSE;
    return SystemFunction036(data, (ULONG)len) ? TRUE : FALSE;
}
