/* hippoctl.c - operator and demo CLI over the SQL API of schema hippo (docs/sql-api.md,
 * hippoctl(1)).
 *
 * A one-shot command: a blocking libpq connection, parameterised queries only. Every
 * command is one row of the table below; its function (hippoctl_*.c) parses its own
 * options. This file holds the global options and the dispatch.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "hippoctl.h"

#ifndef HIPPOD_VERSION
#define HIPPOD_VERSION "unknown"
#endif

/* ---- dispatch ---------------------------------------------------------------------- */

#define USER_ARGS "USER is a user id or the user's JID.\n"
#define ROOM_ARGS "POST and GROUP are an id or the room JID.\n"

static const hippoctl_command commands[] = {
    {"migrate", "", "Apply the pending database migrations.", NULL, hippoctl_cmd_migrate, false},
    {"user add", "--jid JID --name NAME", "Create a user; prints its id.",
     "  --jid JID     bare XMPP address (stored lower-cased)\n"
     "  --name NAME   display name\n",
     hippoctl_cmd_user_add, false},
    {"user list", "", "List users: id, jid, name.", NULL, hippoctl_cmd_user_list, true},
    {"user show", "USER", "Show a user and its groups.", NULL, hippoctl_cmd_user_show, true},
    {"group add", "--name NAME", "Create a group; prints its id and room JID.",
     "Prints the new id on stdout and the room JID on stderr (both with --json).\n",
     hippoctl_cmd_group_add, true},
    {"group list", "", "List groups: id, name, members, room JID.", NULL, hippoctl_cmd_group_list,
     true},
    {"group show", "GROUP", "Show a group, its room JID and members.", NULL,
     hippoctl_cmd_group_show, true},
    {"group member add", "GROUP USER", "Make USER an active member of GROUP.", ROOM_ARGS USER_ARGS,
     hippoctl_cmd_group_member_add, false},
    {"group member remove", "GROUP USER", "Remove USER from GROUP.", ROOM_ARGS USER_ARGS,
     hippoctl_cmd_group_member_remove, false},
    {"resource add", "--name NAME", "Create (or find) a non-user recipient.", NULL,
     hippoctl_cmd_resource_add, false},
    {"resource list", "", "List resources: id, name.", NULL, hippoctl_cmd_resource_list, true},
    {"post create", "--poster USER --href URL --title TITLE [--body TEXT] [--to ID]... [--world]",
     "Create a post; prints its id and room JID.",
     "Prints the new id on stdout and the room JID on stderr (both with --json).\n\n"
     "  --poster USER   poster (user id or JID)\n"
     "  --href URL      the shared link\n"
     "  --title TITLE   its title\n"
     "  --body TEXT     description (default empty)\n"
     "  --to ID         a recipient: a user (id or JID), a group (id or room JID) or a\n"
     "                  resource id (repeatable, kept in order)\n"
     "  --world         visible to everyone\n",
     hippoctl_cmd_post_create, true},
    {"post list", "[--limit N]", "List the newest posts.",
     "  --limit N   at most N posts (default 20)\n", hippoctl_cmd_post_list, true},
    {"post show", "POST", "Show a post, its room JID, audience, viewers.", NULL,
     hippoctl_cmd_post_show, true},
    {"view record", "POST USER", "Record that USER viewed POST.", ROOM_ARGS USER_ARGS,
     hippoctl_cmd_view_record, false},
    {"post ignore", "POST USER", "Mark POST ignored by USER.", ROOM_ARGS USER_ARGS,
     hippoctl_cmd_post_ignore, false},
    {"post unignore", "POST USER", "Mark POST no longer ignored by USER.", ROOM_ARGS USER_ARGS,
     hippoctl_cmd_post_unignore, false},
    {"room show", "ROOM [--limit N]", "A room: kind, title, occupants, messages.",
     "  ROOM        a post or group id, or the room JID\n"
     "  --limit N   at most the last N messages (default 20)\n",
     hippoctl_cmd_room_show, true},
    {"pref set", "USER KEY VALUE", "Set a preference of USER.",
     "  KEY     applicationUsageEnabled, musicSharingEnabled or musicSharingPrimed\n"
     "  VALUE   true or false\n",
     hippoctl_cmd_pref_set, false},
    {"pref unset", "USER KEY", "Remove a preference of USER.", NULL, hippoctl_cmd_pref_unset,
     false},
    {"pref list", "USER", "List USER's stored preferences.", NULL, hippoctl_cmd_pref_list, true},
    {"myspace set", "USER NAME", "Set USER's MySpace name (empty: clear).", NULL,
     hippoctl_cmd_myspace_set, false},
    {"myspace comment", "USER NAME", "Tell USER's contacts named NAME (a count).", NULL,
     hippoctl_cmd_myspace_comment, false},
    {"contact add", "USER CONTACT", "Add CONTACT to USER's contacts.", NULL,
     hippoctl_cmd_contact_add, false},
    {"contact remove", "USER CONTACT", "Remove CONTACT from USER's contacts.", NULL,
     hippoctl_cmd_contact_remove, false},
    {"contact list", "USER", "List USER's contacts.", NULL, hippoctl_cmd_contact_list, true},
    {"outbox list", "[--limit N]", "List the push events waiting for hippod.",
     "  --limit N   at most N events, oldest first (default 100)\n", hippoctl_cmd_outbox_list,
     true},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* Number of leading ARGV elements that equal the leading words of WORDS. */
static int words_matched(const char *words, int argc, char **argv)
{
    int n = 0;
    const char *w = words;
    while (*w != '\0' && n < argc) {
        size_t len = strcspn(w, " ");
        if (strlen(argv[n]) != len || strncmp(argv[n], w, len) != 0)
            break;
        n++;
        w += len;
        w += *w == ' ';
    }
    return n;
}

static int word_count(const char *words)
{
    int n = 1;
    for (const char *p = words; *p; p++)
        n += *p == ' ';
    return n;
}

/* Lists the commands whose first N words are ARGV[0..N-1] (all commands for N = 0). */
static void print_commands(FILE *f, int n, char **argv)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (words_matched(commands[i].words, n, argv) < n)
            continue;
        char left[128];
        snprintf(left, sizeof left, "%s%s%s", commands[i].words, *commands[i].synopsis ? " " : "",
                 commands[i].synopsis);
        if (strlen(left) > 32)
            fprintf(f, "  %s\n  %-32s %s\n", left, "", commands[i].summary);
        else
            fprintf(f, "  %-32s %s\n", left, commands[i].summary);
    }
}

static void print_main_usage(FILE *f)
{
    fprintf(f, "usage: hippoctl [-d CONNINFO | -c CONFIG] [--domain DOMAIN] COMMAND [ARGS]\n"
               "       hippoctl --help | --version\n\n"
               "Operator and demo tool over hippod's SQL API (schema hippo); see hippoctl(1).\n"
               "Database: -d CONNINFO, else [database] conninfo of -c CONFIG,\n"
               "else $HIPPO_DATABASE.\n"
               "Rooms domain (for room JIDs): --domain, else [component] domain of -c CONFIG,\n"
               "else $HIPPO_DOMAIN.\n"
               "USER arguments take a user id or a JID; POST and GROUP an id or the room JID.\n"
               "COMMAND --help describes a command; show and list commands take --json.\n\n"
               "Commands:\n");
    print_commands(f, 0, NULL);
    fprintf(f, "\nExit status: 0 success, 1 refused by the database (unknown id, duplicate),\n"
               "64 usage or invalid value, 69 database unavailable, 78 no database configured.\n");
}

/* Runs the command named by the leading words of ARGV. */
static int dispatch(hippoctl *c, int argc, char **argv)
{
    int best = 0;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        int n = words_matched(commands[i].words, argc, argv);
        if (n == word_count(commands[i].words))
            return commands[i].run(c, &commands[i], argc - n + 1, argv + n - 1);
        best = n > best ? n : best;
    }
    if (best == 0) {
        fprintf(stderr, "hippoctl: unknown command \"%s\"\n", argv[0]);
        print_main_usage(stderr);
        return HIPPOCTL_EXIT_USAGE;
    }
    bool help = best < argc && (strcmp(argv[best], "--help") == 0 || strcmp(argv[best], "-h") == 0);
    FILE *f = help ? stdout : stderr;
    if (!help)
        fprintf(stderr, "hippoctl: incomplete or unknown command\n");
    fprintf(f, "usage:\n");
    print_commands(f, best, argv);
    return help ? 0 : HIPPOCTL_EXIT_USAGE;
}

/* Global options before the command; returns -1 to go on, else the exit status. */
static int parse_global(hippoctl *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"database", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
        {"domain", required_argument, NULL, 'D'},   {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
    };
    int ch;
    /* "+": stop at the command, whose options are its own. */
    while ((ch = getopt_long(argc, argv, "+d:c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            c->conninfo = optarg;
            break;
        case 'c':
            c->config = optarg;
            break;
        case 'D':
            c->domain_opt = optarg;
            break;
        case 'h':
            print_main_usage(stdout);
            return 0;
        case 'V':
            printf("hippoctl %s\n", HIPPOD_VERSION);
            return 0;
        default:
            print_main_usage(stderr);
            return HIPPOCTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hippoctl: missing command\n");
        print_main_usage(stderr);
        return HIPPOCTL_EXIT_USAGE;
    }
    return -1;
}

int main(int argc, char **argv)
{
    hippoctl c = {.status = HIPPOCTL_EXIT_OTHER};
    int status = parse_global(&c, argc, argv);
    if (status < 0)
        status = dispatch(&c, argc - optind, argv + optind);
    hippoctl_close(&c);
    return status;
}
