/* A program for `privman run` to execute in the tests: it reports, in
 * "Name:\tvalue" lines, what the process it runs in can see and do.
 *   run_probe status    copy /proc/self/status to stdout
 *   run_probe whereami  the device:inode of "/", the working directory, the uid
 *   run_probe setuid    whether setuid(0) and setgid(0) succeed (they must not)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Under the sanitizers this probe runs inside chroot jails, where
 * LeakSanitizer finds no /proc (not even to read ASAN_OPTIONS) and fails
 * the run; a short-lived probe has no leaks worth that. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return 1;
}

static int print_status(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f) {
		perror("run_probe: /proc/self/status");
		return 1;
	}
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

static int print_whereami(void)
{
	struct stat root;
	char cwd[4096];
	if (stat("/", &root) != 0 || !getcwd(cwd, sizeof(cwd))) {
		perror("run_probe: whereami");
		return 1;
	}
	printf("XRoot:\t%ju:%ju\nXCwd:\t%s\nXUid:\t%u\n", (uintmax_t)root.st_dev,
	       (uintmax_t)root.st_ino, cwd, (unsigned)getuid());
	return 0;
}

static int print_setuid(void)
{
	errno = 0;
	int r = setuid(0);
	printf("XSetuid0:\t%s\n", r == 0 ? "ok" : strerrorname_np(errno));
	errno = 0;
	r = setgid(0);
	printf("XSetgid0:\t%s\n", r == 0 ? "ok" : strerrorname_np(errno));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "status") == 0)
		return print_status();
	if (argc == 2 && strcmp(argv[1], "whereami") == 0)
		return print_whereami();
	if (argc == 2 && strcmp(argv[1], "setuid") == 0)
		return print_setuid();
	fprintf(stderr, "usage: run_probe status|whereami|setuid\n");
	return 2;
}
