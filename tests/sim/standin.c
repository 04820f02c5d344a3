/* A stand-in hardware tool of a simulated Spark (tests/sim/node.py), as one small process.
 *
 * Installed as <node>/bin/<tool> (a hard link or copy of one build); it reads the table
 * <node>/standin/<tool>, written by node.py from the recordings under tests/sim/data:
 *     DELAY-SECONDS\n  then for each recorded argv:  ARGS\n RC\n PATH-OF-THE-RECORDING\n
 * ARGS is the argv after the tool's name joined by single spaces (what `"$*"` gives in sh).
 * A matching argv: sleep DELAY (the real tool's time), print the recording, exit RC. Any other
 * argv is refused with exit 2, as the sh stand-ins do. Same behaviour as the sh stand-in
 * (node.py _standin) without a shell and a `sleep` process per call: the simulated nodes share
 * this machine's cores with sparkpilot, real Sparks do not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void chomp(char *s) { size_t n = strlen(s); if (n && s[n - 1] == '\n') s[n - 1] = 0; }

int main(int argc, char **argv) {
    static char exe[4096], table[4352], args[65536], line[65536], rc[64], path[4096], buf[65536];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 2;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 2;
    *slash = 0;
    const char *tool = slash + 1;
    snprintf(table, sizeof table, "%s/../standin/%s", exe, tool);
    size_t used = 0;
    for (int i = 1; i < argc; i++) {
        size_t len = strlen(argv[i]);
        if (used + len + 2 >= sizeof args) break;
        if (i > 1) args[used++] = ' ';
        memcpy(args + used, argv[i], len);
        used += len;
    }
    args[used] = 0;
    FILE *f = fopen(table, "r");
    if (f && fgets(line, sizeof line, f)) {
        double delay = atof(line);
        while (fgets(line, sizeof line, f) && fgets(rc, sizeof rc, f) && fgets(path, sizeof path, f)) {
            chomp(line); chomp(rc); chomp(path);
            if (strcmp(line, args) != 0) continue;
            fclose(f);
            if (delay > 0) {
                struct timespec ts = {(time_t)delay, (long)((delay - (time_t)delay) * 1e9)};
                while (nanosleep(&ts, &ts) != 0) {}
            }
            FILE *rec = fopen(path, "rb");
            if (rec) {
                size_t got;
                while ((got = fread(buf, 1, sizeof buf, rec)) > 0) fwrite(buf, 1, got, stdout);
                fclose(rec);
            }
            fflush(stdout);
            return atoi(rc);
        }
    }
    if (f) fclose(f);
    fprintf(stderr, "%s: simulated node has no recording for: %s\n", tool, args);
    return 2;
}
