/*
 * Initializes AddressSanitizer's runtime before any other constructor of
 * the process, as an instrumented executable does from its .preinit_array.
 * scripts/sanitize.sh builds it with -z initfirst (DF_1_INITFIRST: glibc
 * runs this object's constructor before every other one) and preloads it
 * after libasan into the uninstrumented Postgres binaries.
 *
 * Why: preloaded, libasan's own constructor runs last (preloads come first
 * in the search list, so they are initialized after everything else), and
 * until then ASan initializes lazily, on the first malloc. In a Postgres
 * process that first malloc comes from libgpg-error's ELF constructor
 * (pulled in through libsystemd, libgcrypt and GnuTLS), inside glibc's
 * bindtextdomain, which holds the gettext lock (_nl_state_lock) for
 * writing. ASan's initialization calls dlerror(), which translates its
 * message with dcgettext: on the same thread its read lock fails
 * (EDEADLK, unchecked) and its unlock releases the writer's lock, then
 * bindtextdomain's own unlock takes the reader count below zero. The lock
 * is broken from then on, and Postgres' first bindtextdomain in main()
 * waits forever (`postgres -V` hangs, and with it initdb and pg_ctl).
 * Initialized first, ASan's runtime is ready before any library runs a
 * constructor, and nothing re-enters gettext.
 */
void __asan_init(void);

__attribute__((constructor)) static void
asan_init_first(void)
{
	__asan_init();
}
