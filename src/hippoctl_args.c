/* hippoctl_args.c - a command's options (getopt_long over a small table) and its usage. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "hippoctl.h"

#define OPT_BASE 256 /* getopt_long return values of table options: OPT_BASE + index */
#define OPT_JSON 'j'

void hippoctl_print_usage(FILE *f, const hippoctl_command *cmd)
{
    fprintf(f, "usage: hippoctl [-d CONNINFO | -c CONFIG] %s%s%s%s\n%s\n", cmd->words,
            *cmd->synopsis ? " " : "", cmd->synopsis, cmd->json ? " [--json]" : "", cmd->summary);
    if (cmd->details != NULL)
        fprintf(f, "\n%s", cmd->details);
    if (cmd->json)
        fprintf(f, "%s  --json      print JSON (for scripts)\n", cmd->details ? "" : "\n");
}

int hippoctl_usage_error(const hippoctl_command *cmd, const char *msg, const char *arg)
{
    fprintf(stderr, "hippoctl %s: %s%s\n", cmd->words, msg, arg ? arg : "");
    hippoctl_print_usage(stderr, cmd);
    return HIPPOCTL_EXIT_USAGE;
}

static bool list_add(hippoctl_list *l, const char *item)
{
    const char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (items == NULL)
        return false;
    items[l->n++] = item;
    l->items = items;
    return true;
}

void hippoctl_list_free(hippoctl_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static bool store_opt(const hippoctl_opt *o, const char *arg)
{
    switch (o->kind) {
    case HIPPOCTL_OPT_VALUE:
        *(const char **)o->target = arg;
        return true;
    case HIPPOCTL_OPT_FLAG:
        *(bool *)o->target = true;
        return true;
    case HIPPOCTL_OPT_LIST:
        return list_add(o->target, arg);
    }
    return false;
}

/* Fills LONGOPTS (HIPPOCTL_MAX_OPTS + 3 entries) from OPTS, --help and maybe --json. */
static void build_longopts(struct option *longopts, const hippoctl_opt *opts, size_t nopts,
                           bool json)
{
    size_t i;
    for (i = 0; i < nopts && i < HIPPOCTL_MAX_OPTS; i++)
        longopts[i] = (struct option){
            opts[i].name, opts[i].kind == HIPPOCTL_OPT_FLAG ? no_argument : required_argument, NULL,
            OPT_BASE + (int)i};
    longopts[i++] = (struct option){"help", no_argument, NULL, 'h'};
    if (json)
        longopts[i++] = (struct option){"json", no_argument, NULL, OPT_JSON};
    longopts[i] = (struct option){NULL, 0, NULL, 0};
}

bool hippoctl_parse_args(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                         const hippoctl_opt *opts, size_t nopts, int npos, int *first, int *status)
{
    struct option longopts[HIPPOCTL_MAX_OPTS + 3];
    build_longopts(longopts, opts, nopts, cmd->json);
    optind = 0; /* GNU: full reinitialisation, scanning starts at argv[1] */
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            hippoctl_print_usage(stdout, cmd);
            *status = 0;
            return false;
        }
        if (ch == ':' || ch == '?') {
            *status = hippoctl_usage_error(
                cmd, ch == ':' ? "missing value for " : "unknown option ", argv[optind - 1]);
            return false;
        }
        if (ch == OPT_JSON) {
            c->json = true;
        } else if (!store_opt(&opts[ch - OPT_BASE], optarg)) {
            fprintf(stderr, "hippoctl: out of memory\n");
            *status = HIPPOCTL_EXIT_OTHER;
            return false;
        }
    }
    if (argc - optind != npos) {
        *status = hippoctl_usage_error(
            cmd, argc - optind < npos ? "missing argument" : "too many arguments", NULL);
        return false;
    }
    *first = optind;
    return true;
}

bool hippoctl_is_count(const char *s)
{
    size_t len = strlen(s);
    return len > 0 && len <= 9 && strspn(s, "0123456789") == len;
}
