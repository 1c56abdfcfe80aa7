/* main.c - hippod's command line: run, --check-config, --migrate. */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

#include "config.h"
#include "hippod.h"
#include "migrate.h"

#define EXIT_USAGE 64 /* sysexits.h EX_USAGE */

static void usage(FILE *out)
{
    fprintf(out, "usage: hippod -c FILE [--check-config | --migrate]\n"
                 "       hippod --version | --help\n"
                 "\n"
                 "  -c, --config FILE   configuration file (ini); required\n"
                 "      --check-config  validate the configuration and exit (0, or 78)\n"
                 "      --migrate       apply pending database migrations and exit (needs\n"
                 "                      only [database])\n"
                 "  -V, --version       print the version and exit\n"
                 "  -h, --help          print this help and exit\n"
                 "\n"
                 "Runs in the foreground; logs go to stderr. See hippod(8).\n");
}

static int migrate(const hippo_config *cfg)
{
    PGconn *conn = PQconnectdb(cfg->database_conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "hippod: cannot connect to the database: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    char err[1024];
    int applied = hippo_migrate(conn, stdout, err, sizeof err);
    PQfinish(conn);
    if (applied < 0) {
        fprintf(stderr, "hippod: migration failed: %s\n", err);
        return 1;
    }
    return 0;
}

/* From a shell, a secret left to systemd's credential cannot be read: say what the service
 * will need instead of failing, so `--check-config && systemctl reload` works as written. */
static void report_check(const char *path, const hippo_config *cfg)
{
    printf("%s: configuration ok\n", path);
    if (cfg->secret_from_credential)
        printf("%s: the component secret is not checked: it is expected from the systemd "
               "credential \"%s\" (LoadCredential=%s:FILE in the unit)\n",
               path, HIPPO_SECRET_CREDENTIAL, HIPPO_SECRET_CREDENTIAL);
}

static int run(const char *path, hippo_config *cfg)
{
    hippod d = {.config_path = path, .cfg = *cfg};
    hippo_log_init(&d.log, cfg->log_level);
    hippo_metrics_init(&d.metrics);
    xmpp_initialize();
    int status = hippod_run(&d);
    xmpp_shutdown();
    hippo_metrics_free(&d.metrics);
    *cfg = d.cfg; /* a reload may have replaced parts of it */
    return status;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
        {"migrate", no_argument, NULL, 'm'},      {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool check = false, do_migrate = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'm':
            do_migrate = true;
            break;
        case 'V':
            printf("hippod %s\n", HIPPOD_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!path || optind != argc || (check && do_migrate)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    enum hippo_config_mode mode = check        ? HIPPO_CONFIG_CHECK
                                  : do_migrate ? HIPPO_CONFIG_DATABASE
                                               : HIPPO_CONFIG_RUN;
    hippo_config cfg;
    char err[1024];
    if (hippo_config_load_for(path, mode, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "hippod: %s\n", err);
        return HIPPO_EXIT_CONFIG;
    }
    int status = 0;
    if (check)
        report_check(path, &cfg);
    else if (do_migrate)
        status = migrate(&cfg);
    else
        status = run(path, &cfg);
    hippo_config_free(&cfg);
    return status;
}
