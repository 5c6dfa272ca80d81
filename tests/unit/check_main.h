/*
 * The main() every unit-test program shares: runs one Check suite and exits
 * non-zero when a test failed. Include it last, after the suite's function.
 */
#ifndef MM_CHECK_MAIN_H
#define MM_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define MM_CHECK_MAIN(make_suite)                                   \
    int main(void)                                                  \
    {                                                               \
        SRunner *sr = srunner_create(make_suite());                 \
        int failed;                                                 \
                                                                    \
        srunner_run_all(sr, CK_NORMAL);                             \
        failed = srunner_ntests_failed(sr);                         \
        srunner_free(sr);                                           \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;           \
    }

#endif
