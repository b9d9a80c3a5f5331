/* config_cmd.c - `custos config show`. */
#include "cli/cli.h"
#include "core/config.h"

int cmd_config(int argc, char **argv)
{
    bool json = false, markdown = false;
    const char *pos[1];
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json}, {"markdown", NULL, &markdown}};
    int rc = cli_parse("config", argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1 || strcmp(pos[0], "show") != 0)
        return cli_usage("config", "say: custos config show [--json | --markdown]");
    if (markdown)
        config_print_markdown(stdout);
    else
        config_show(stdout, json);
    return EXIT_OK;
}
