/* mycat: cat(1) for a program split by Privman. Each file named on the
 * command line is opened through the monitor, with priv_fopen(), or with
 * priv_open() when its name is preceded by -o, and copied to stdout. A
 * refusal is reported as the original's programs reported one: with the
 * name and strerror(errno), and mycat goes on with the next file.
 *
 * Written against the original Privman interface only: <privman.h>, the
 * appname given to priv_init(), nothing of the library's internals. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <privman.h>

static int failures;

static void copy(FILE *in)
{
	char buf[512];
	size_t n;

	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, stdout);
}

static void cat_fopen(const char *path)
{
	FILE *f = priv_fopen(path, "r");

	if (f == NULL) {
		printf("%s: %s\n", path, strerror(errno));
		failures++;
		return;
	}
	copy(f);
	fclose(f);
}

static void cat_open(const char *path)
{
	int fd = priv_open(path, O_RDONLY);
	FILE *f;

	if (fd < 0) {
		printf("%s: %s\n", path, strerror(errno));
		failures++;
		return;
	}
	f = fdopen(fd, "r");
	copy(f);
	fclose(f);
}

int main(int argc, char *argv[])
{
	struct passwd *pw;
	int i;

	priv_init("mycat");

	pw = getpwuid(getuid());
	printf("mycat runs as %s\n", pw ? pw->pw_name : "?");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			cat_open(argv[++i]);
		else
			cat_fopen(argv[i]);
	}
	return failures;
}
