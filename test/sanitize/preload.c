/*
 * Preloaded by scripts/sanitize.sh into the uninstrumented Postgres
 * binaries, right after libasan and before libubsan, so that the
 * sanitizers behave there as in an instrumented executable. Built with
 * -z initfirst (DF_1_INITFIRST: glibc runs this object's constructor
 * before every other one) and -DPGML_UBSAN_OPTIONS="...".
 *
 * 1. ASan's runtime is initialized first, as an instrumented executable
 * does from its .preinit_array. Preloaded, libasan's own constructor runs
 * last (preloads come first in the search list, so they are initialized
 * after everything else), and until then ASan initializes lazily, on the
 * first malloc. In a Postgres process that first malloc comes from
 * libgpg-error's ELF constructor (pulled in through libsystemd, libgcrypt
 * and GnuTLS), inside glibc's bindtextdomain, which holds the gettext lock
 * (_nl_state_lock) for writing. ASan's initialization calls dlerror(),
 * which translates its message with dcgettext: on the same thread its read
 * lock fails (EDEADLK, unchecked) and its unlock releases the writer's
 * lock, then bindtextdomain's own unlock takes the reader count below
 * zero. The lock is broken from then on, and Postgres' first
 * bindtextdomain in main() waits forever (`postgres -V` hangs, and with it
 * initdb and pg_ctl).
 *
 * 2. UBSan's options are compiled in (__ubsan_default_options). libubsan
 * initializes at its first report, in a backend, and reads UBSAN_OPTIONS
 * from /proc/self/environ: by then Postgres has written its process title
 * over the memory that file shows (argv and environ), so the options from
 * the environment were lost (no stack trace, exit code 1 instead of an
 * abort).
 */
void __asan_init(void);

__attribute__((constructor)) static void
asan_init_first(void)
{
	__asan_init();
}

#ifndef PGML_UBSAN_OPTIONS
#define PGML_UBSAN_OPTIONS ""
#endif

const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return PGML_UBSAN_OPTIONS;
}
