/* replay.c - runs a libFuzzer target over a corpus without libFuzzer, so that the
 * test suite replays every corpus file (under the sanitizers) on any compiler.
 * usage: fuzz_X FILE_OR_DIR... */
#include <dirent.h>
#include <sys/stat.h>

#include "core/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (4 * 1024 * 1024)

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t *buf = malloc(REPLAY_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
    fclose(f);
    if (!buf)
        return 1;
    /* Give the target an exact-size copy so that ASan sees reads past the end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact) {
        memcpy(exact, buf, n);
        LLVMFuzzerTestOneInput(exact, n);
        (*count)++;
    }
    free(exact);
    free(buf);
    return exact ? 0 : 1;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "cannot stat %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, count);
    DIR *d = opendir(path);
    if (!d)
        return 1;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) && !rc) {
        if (de->d_name[0] == '.')
            continue;
        char child[4096];
        snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
        rc = run_path(child, count);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count))
            return 1;
    printf("%zu inputs replayed\n", count);
    return count ? 0 : 1;
}
