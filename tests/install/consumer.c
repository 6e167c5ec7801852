/* A tiny program built against the installed weft: links, runs, checks. */
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>

int main(void)
{
    weft_collection *c = NULL;
    void *item = NULL;
    if (strcmp(weft_version(), WEFT_VERSION_STRING) != 0)
        return 1;
    if (weft_collection_create(&c, NULL) != 0)
        return 2;
    if (weft_collection_add(c, &c) != 0 || weft_collection_take(c, &item) != 0 || item != &c)
        return 3;
    weft_collection_destroy(c);
    puts("consumer ok");
    return 0;
}
