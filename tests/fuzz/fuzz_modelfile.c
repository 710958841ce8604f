/*
 * fuzz_modelfile.c - the model file readers: safetensors_load() and
 * vocab_load() on arbitrary bytes. The first byte picks the reader; the
 * rest is written to a temporary file. Either the load fails cleanly or
 * it yields a model whose tensors all lie in its block and a vocabulary
 * whose ids ascend.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../src/model/modelfile.h"

static char path[256];

static void cleanup(void)
{
    if (path[0])
        unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct error err;
    FILE *f;

    if (size < 1)
        return 0;
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/fuzz_modelfile.%d", tmp && *tmp ? tmp : "/tmp",
                 (int)getpid());
        atexit(cleanup);
    }
    f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    if (data[0] & 1) {
        struct model m;
        if (safetensors_load(&m, path, &err) == 0) {
            for (int i = 0; i < m.params.ntensors; i++)
                if (m.params.tensors[i].offset + m.params.tensors[i].count > m.params.total)
                    abort();
            model_free(&m);
        } else if (!err.msg[0]) {
            abort();
        }
    } else {
        struct vocab v;
        if (vocab_load(&v, path, &err) == 0) {
            for (int i = 1; i < v.nusers; i++)
                if (v.user_ids[i] <= v.user_ids[i - 1])
                    abort();
            vocab_free(&v);
        } else if (!err.msg[0]) {
            abort();
        }
    }
    return 0;
}
