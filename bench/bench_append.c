/* open_ao: what the append-only stream costs (see priv_open(3), "Append-only
 * streams"). Every figure is measured in this run, unpinned:
 *   - priv_open of an open_ao file + close (a pipe made, handed to the
 *     appender, ended) against open(2) + close of a file the program may
 *     open itself, and against priv_open of an open_ro file;
 *   - writing 100-byte lines: write(2) on a file against write(2) on the
 *     stream, in the program, and end to end (until every byte is in the
 *     file).
 * Needs root (priv_init). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "privman.h"

#define OPENS 2000
#define LINES 200000
#define LINE 100

static char dir[64], ao[128], own[128], ro[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/privman-bench.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		die("mkdtemp");
	snprintf(ao, sizeof(ao), "%s/ao.log", dir);
	snprintf(own, sizeof(own), "%s/own.log", dir);
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	const char *files[] = {ao, own, ro};
	for (int i = 0; i < 3; i++) {
		int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die(files[i]);
		close(fd);
	}
	chmod(own, 0666); /* the program opens it itself */
	char policy[160];
	snprintf(policy, sizeof(policy), "%s/privman-bench", dir);
	FILE *f = fopen(policy, "we");
	if (!f)
		die("policy");
	fprintf(f, "open_ao { \"%s\" }\nopen_ro { \"%s\" }\n", ao, ro);
	fclose(f);
	setenv("PRIVMAN_CONF_DIR", dir, 1);
	unsetenv("PRIVMAN_AUDIT");
}

static double open_close(const char *path, int flags, bool priv)
{
	static double v[OPENS];
	for (int i = 0; i < OPENS; i++) {
		double t0 = now_ns();
		int fd = priv ? priv_open(path, flags) : open(path, flags);
		if (fd < 0)
			die(path);
		close(fd);
		v[i] = now_ns() - t0;
	}
	return median(v, OPENS);
}

static off_t size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Seconds to write LINES lines on fd (closed after), and until the file
 * at `path` holds them all. */
static void write_lines(int fd, const char *path, double *in_program, double *end_to_end)
{
	char line[LINE];
	memset(line, 'x', sizeof(line));
	line[LINE - 1] = '\n';
	off_t want = size_of(path) + (off_t)LINES * LINE;
	double t0 = now_ns();
	for (int i = 0; i < LINES; i++)
		if (write(fd, line, LINE) != LINE)
			die("write");
	close(fd);
	*in_program = (now_ns() - t0) / 1e9;
	while (size_of(path) < want)
		usleep(100);
	*end_to_end = (now_ns() - t0) / 1e9;
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "bench_append: run as root\n");
		return 1;
	}
	setup();
	/* The program cannot remove the root-owned directory: its parent does. */
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child > 0) {
		int status = 1;
		waitpid(child, &status, 0);
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench: could not remove %s\n", dir);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	priv_init("privman-bench");

	double file_open = open_close(own, O_WRONLY | O_APPEND | O_CLOEXEC, false);
	double ro_open = open_close(ro, O_RDONLY | O_CLOEXEC, true);
	double ao_open = open_close(ao, O_WRONLY | O_APPEND | O_CLOEXEC, true);

	double file_w, file_e2e, ao_w, ao_e2e;
	int fd = open(own, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		die(own);
	write_lines(fd, own, &file_w, &file_e2e);
	fd = priv_open(ao, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		die(ao);
	write_lines(fd, ao, &ao_w, &ao_e2e);

	double mb = (double)LINES * LINE / 1e6;
	printf("open_ao streams (unpinned, medians of %d)\n", OPENS);
	printf("%-44s %9.2f us\n", "open(2) O_APPEND + close", file_open / 1e3);
	printf("%-44s %9.2f us\n", "priv_open open_ro + close", ro_open / 1e3);
	printf("%-44s %9.2f us\n", "priv_open open_ao + close", ao_open / 1e3);
	printf("%-44s %11.2fx\n", "  open_ao / open_ro", ao_open / ro_open);
	printf("%d lines of %d bytes (%.0f MB)\n", LINES, LINE, mb);
	printf("%-44s %9.0f MB/s\n", "write(2) on the file", mb / file_w);
	printf("%-44s %9.0f MB/s\n", "write(2) on the stream, in the program", mb / ao_w);
	printf("%-44s %9.0f MB/s\n", "  the same, until all is in the file", mb / ao_e2e);
	printf("%-44s %11.2fx\n", "  end to end: stream / file", file_e2e / ao_e2e);
	return 0;
}
