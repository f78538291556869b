/* tests/unit/scalar.c — the integer helpers of runtime/smelt_scalar.h, which both the
 * interpreter and the generated code use: division, modulo (both signs
 * conventions) and power without undefined behaviour, for every integer width, and
 * the saturating float -> integer conversions.  Run under UBSan (make
 * test-sanitize), any overflow in the helpers themselves is reported. */
#include "../testutil.h"
#include "runtime/smelt_scalar.h"

#include <math.h>

#define EQ(got, exp) CHECK((long long)(got) == (long long)(exp), "%s = %lld, expected %lld", #got, (long long)(got), (long long)(exp))
#define EQU(got, exp) CHECK((unsigned long long)(got) == (unsigned long long)(exp), "%s = %llu, expected %llu", #got, (unsigned long long)(got), (unsigned long long)(exp))

/* volatile operands keep the compiler from folding (so UBSan sees the run-time path) */
static volatile int64_t vz = 0, vm1 = -1;

int main(void) {
  /* ---- division: x / 0 = 0, MIN / -1 wraps to MIN, truncation toward zero ---- */
  EQ(sm_idiv_s(7, vz), 0);
  EQ(sm_idiv_s(INT64_MIN, vz), 0);
  EQ(sm_idiv_s(INT64_MIN, vm1), INT64_MIN);
  EQ(sm_idiv_s(INT64_MAX, vm1), -INT64_MAX);
  EQ(sm_idiv_s(-7, 2), -3);
  EQ(sm_idiv_s(7, -2), -3);
  EQU(sm_idiv_u(7, 0), 0);
  EQU(sm_idiv_u(UINT64_MAX, 2), UINT64_MAX / 2);
  EQ(SM_IDIV(int32_t, INT32_MIN, -1), INT32_MIN);
  EQ(SM_IDIV(int16_t, INT16_MIN, -1), INT16_MIN);
  EQ(SM_IDIV(int8_t, INT8_MIN, -1), INT8_MIN);
  EQ(SM_IDIV(int8_t, -128, 0), 0);
  EQ(SM_IDIV(int32_t, -9, 4), -2);
  EQU(SM_IDIV(uint8_t, 200, 3), 66);
  EQU(SM_IDIV(uint32_t, 4000000000u, 0), 0);
  EQU(SM_IDIV(uint64_t, UINT64_MAX, 1), UINT64_MAX);

  /* ---- fmod: sign of the dividend (C's %); x % 0 = 0; MIN % -1 = 0 ---- */
  EQ(sm_ifmod_s(-7, 3), -1);
  EQ(sm_ifmod_s(7, -3), 1);
  EQ(sm_ifmod_s(7, vz), 0);
  EQ(sm_ifmod_s(INT64_MIN, vm1), 0);
  EQU(sm_ifmod_u(7, 0), 0);
  EQ(SM_IFMOD(int32_t, INT32_MIN, -1), 0);
  EQ(SM_IFMOD(int8_t, -128, 0), 0);
  EQU(SM_IFMOD(uint16_t, 65535, 10), 5);

  /* ---- mod: sign of the divisor (Python's %) ---- */
  EQ(sm_imod_s(-7, 3), 2);
  EQ(sm_imod_s(7, -3), -2);
  EQ(sm_imod_s(-7, -3), -1);
  EQ(sm_imod_s(6, -3), 0);
  EQ(sm_imod_s(7, vz), 0);
  EQ(sm_imod_s(INT64_MIN, vm1), 0);
  EQ(sm_imod_s(INT64_MIN, INT64_MAX), INT64_MAX - 1);
  EQ(sm_imod_s(INT64_MAX, INT64_MIN), -1);
  EQ(sm_imod_s(-1, INT64_MIN), -1);
  EQ(sm_imod_s(1, INT64_MIN), INT64_MIN + 1);
  EQ(SM_IMOD(int32_t, -1, INT32_MIN), -1);
  EQ(SM_IMOD(int32_t, 1, INT32_MIN), INT32_MIN + 1);
  EQ(SM_IMOD(int8_t, -5, 3), 1);
  EQU(SM_IMOD(uint8_t, 250, 7), 5);
  EQU(SM_IMOD(uint32_t, 5, 0), 0);

  /* ---- power: wraps; negative exponents truncate 1 / b^-e ---- */
  EQU(sm_ipow_u(2, 10), 1024);
  EQU(sm_ipow_u(3, 0), 1);
  EQU(sm_ipow_u(0, 0), 1);
  EQU(sm_ipow_u(2, 64), 0);
  /* against repeated (wrapping) multiplication */
  static const uint64_t bases[] = {0, 1, 2, 3, 7, 10, 255, 0x8000000000000001ull, (uint64_t)-1, (uint64_t)-3};
  for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
    uint64_t naive = 1;
    for (int64_t e = 0; e < 130; e++, naive *= bases[b])
      if (sm_ipow_u(bases[b], e) != naive) { EQU(sm_ipow_u(bases[b], e), naive); break; }
  }
  EQU(sm_ipow_u(2, -1), 0);
  EQU(sm_ipow_u(0, -1), 0);
  EQU(sm_ipow_u(1, -5), 1);
  EQU(sm_ipow_u((uint64_t)-1, -3), (uint64_t)-1);
  EQU(sm_ipow_u((uint64_t)-1, -2), 1);
  EQU(sm_ipow_u((uint64_t)-1, INT64_MIN), 1);     /* -e overflows int64 */
  EQU(sm_ipow_u((uint64_t)-1, INT64_MIN + 1), (uint64_t)-1);
  EQU(sm_ipow_u(2, INT64_MIN), 0);
  EQU(sm_ipow_u(1, INT64_MAX), 1);
  EQU(sm_ipow_u((uint64_t)-1, INT64_MAX), (uint64_t)-1);
  EQ(SM_IPOW(int32_t, -2, 3), -8);
  EQ(SM_IPOW(int32_t, -2, 31), INT32_MIN);
  EQ(SM_IPOW(int32_t, 2, 32), 0);
  EQ(SM_IPOW(int32_t, -1, -7), -1);
  EQ(SM_IPOW(int8_t, 3, 5), (int8_t)243);
  EQ(SM_IPOW(int64_t, 10, 18), 1000000000000000000ll);
  EQ(SM_IPOW(int64_t, 7, -1), 0);
  EQU(SM_IPOW(uint8_t, 2, 8), 0);
  EQU(SM_IPOW(uint16_t, 3, 10), 59049);

  /* ---- signedness test of the macros ---- */
  CHECK(SM_SIGNED(int8_t) && SM_SIGNED(int64_t) && !SM_SIGNED(uint8_t) && !SM_SIGNED(uint64_t), "SM_SIGNED");

  /* ---- saturating conversions: nan -> 0, out of range -> the bound ---- */
  EQ(sm_sat_s(NAN, INT32_MIN, INT32_MAX), 0);
  EQ(sm_sat_s(INFINITY, INT32_MIN, INT32_MAX), INT32_MAX);
  EQ(sm_sat_s(-INFINITY, INT32_MIN, INT32_MAX), INT32_MIN);
  EQ(sm_sat_s(3e9, INT32_MIN, INT32_MAX), INT32_MAX);
  EQ(sm_sat_s(-3e9, INT32_MIN, INT32_MAX), INT32_MIN);
  EQ(sm_sat_s(-2.9, INT32_MIN, INT32_MAX), -2);
  EQ(sm_sat_s(2.9, INT8_MIN, INT8_MAX), 2);
  EQ(sm_sat_s(9.3e18, INT64_MIN, INT64_MAX), INT64_MAX);
  EQ(sm_sat_s(9223372036854775807.0, INT64_MIN, INT64_MAX), INT64_MAX); /* 2^63 */
  EQ(sm_sat_s(-9223372036854775808.0, INT64_MIN, INT64_MAX), INT64_MIN);
  EQ(sm_sat_s(-9.3e18, INT64_MIN, INT64_MAX), INT64_MIN);
  EQ(sm_sat_s(9223372036854774784.0, INT64_MIN, INT64_MAX), 9223372036854774784ll); /* largest double below 2^63 */
  EQU(sm_sat_u(NAN, UINT64_MAX), 0);
  EQU(sm_sat_u(-1.0, UINT8_MAX), 0);
  EQU(sm_sat_u(-0.5, UINT8_MAX), 0);
  EQU(sm_sat_u(255.9, UINT8_MAX), 255);
  EQU(sm_sat_u(1e300, UINT64_MAX), UINT64_MAX);
  EQU(sm_sat_u(18446744073709551616.0, UINT64_MAX), UINT64_MAX);
  EQU(sm_sat_u(18446744073709549568.0, UINT64_MAX), 18446744073709549568ull);
  EQU(sm_sat_u(INFINITY, UINT32_MAX), UINT32_MAX);
  return t_done("unit_scalar");
}
