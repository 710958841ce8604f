/*
 * test_parsers.c - numbers, text encodings, CSV records and the per-line
 * MovieLens parsers.
 */
#include "testutil.h"

#include "../../src/data/csv.h"
#include "../../src/data/lines.h"
#include "../../src/data/movielens.h"
#include "../../src/util/text.h"

static void test_numbers(void **state)
{
    int64_t v;
    double d;
    assert_int_equal(text_parse_i64("123", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(text_parse_i64("-7", 2, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(text_parse_i64("", 0, &v), -1);
    assert_int_equal(text_parse_i64("12a", 3, &v), -1);
    assert_int_equal(text_parse_i64("-", 1, &v), -1);
    assert_int_equal(text_parse_i64("99999999999999999999", 20, &v), -1);
    assert_int_equal(text_parse_double("3.5", 3, &d), 0);
    assert_true(d == 3.5);
    assert_int_equal(text_parse_double("4", 1, &d), 0);
    assert_true(d == 4.0);
    assert_int_equal(text_parse_double("0.25", 4, &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(text_parse_double("nan", 3, &d), -1);
    assert_int_equal(text_parse_double("1e999", 5, &d), -1);
    assert_int_equal(text_parse_double("3,5", 3, &d), -1);
}

static void test_encodings(void **state)
{
    char out[64];
    /* "Cité" in Latin-1 */
    size_t n = text_latin1_to_utf8(out, sizeof(out), "Cit\xe9", 4);
    assert_int_equal(n, 5);
    assert_string_equal(out, "Cit\xc3\xa9");
    assert_true(text_utf8_valid(out, n));
    assert_false(text_utf8_valid("Cit\xe9", 4));
    assert_false(text_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(text_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(text_utf8_valid("a\0b", 3));             /* NUL */
    assert_true(text_utf8_valid("\xf0\x9f\x8e\xac", 4));  /* clapper board */
    /* copy never cuts a character in half */
    n = text_copy(out, 5, "ab\xc3\xa9\xc3\xa9", 6);
    assert_int_equal(n, 4);
    assert_true(text_utf8_valid(out, n));
}

static int split(const char *s, struct csv_field *f, char *buf)
{
    struct error err;
    return csv_split(s, strlen(s), f, CSV_MAX_FIELDS, buf, &err);
}

static void test_csv_split(void **state)
{
    struct csv_field f[CSV_MAX_FIELDS];
    char buf[256];

    assert_int_equal(split("1,Toy Story (1995),Adventure|Animation", f, buf), 3);
    assert_int_equal(f[1].n, 16);
    assert_memory_equal(f[1].s, "Toy Story (1995)", 16);
    assert_int_equal(split("11,\"American President, The (1995)\",Comedy|Drama", f, buf), 3);
    assert_int_equal(f[1].n, strlen("American President, The (1995)"));
    assert_memory_equal(f[1].s, "American President, The (1995)", f[1].n);
    assert_int_equal(split("1,\"He said \"\"hi\"\"\",x", f, buf), 3);
    assert_int_equal(f[1].n, strlen("He said \"hi\""));
    assert_memory_equal(f[1].s, "He said \"hi\"", f[1].n);
    assert_int_equal(split("a,,c,", f, buf), 4);
    assert_int_equal(f[1].n, 0);
    assert_int_equal(f[3].n, 0);
    assert_int_equal(split("\"open", f, buf), -2);
    assert_int_equal(split("a\"b,c", f, buf), -1);
    assert_int_equal(split("\"a\"b,c", f, buf), -1);
}

static void test_csv_records(void **state)
{
    static const char data[] = "movieId,title,genres\r\n"
                               "1,\"Multi\nline\",Drama\r\n"
                               "2,Plain,Comedy\n"
                               "3,\"never closed,Drama\n";
    struct lines in;
    struct csv c;
    struct error err;

    lines_open_mem(&in, data, sizeof(data) - 1, "movies.csv");
    csv_init(&c, &in);
    assert_int_equal(csv_next(&c, &err), 1);
    assert_int_equal(c.nfields, 3);
    assert_int_equal(c.f[2].n, 6); /* CR removed */
    assert_int_equal(csv_next(&c, &err), 1);
    assert_int_equal(c.lineno, 2);
    assert_int_equal(c.f[1].n, 10);
    assert_memory_equal(c.f[1].s, "Multi\nline", 10);
    assert_int_equal(csv_next(&c, &err), 1);
    assert_int_equal(c.lineno, 4);
    assert_int_equal(csv_next(&c, &err), -1);
    assert_non_null(strstr(err.msg, "movies.csv:5"));
    assert_non_null(strstr(err.msg, "not closed"));
    csv_free(&c);
}

static void test_titles(void **state)
{
    char t[256];
    assert_int_equal(ml_split_title("Toy Story (1995)", 16, t, sizeof(t)), 1995);
    assert_string_equal(t, "Toy Story");
    assert_int_equal(ml_split_title("Usual Suspects, The (1995)", 26, t, sizeof(t)), 1995);
    assert_string_equal(t, "The Usual Suspects");
    {
        const char *s = "City of Lost Children, The (Cit\xc3\xa9 des enfants perdus, La) (1995)";
        assert_int_equal(ml_split_title(s, strlen(s), t, sizeof(t)), 1995);
        assert_string_equal(t, "The City of Lost Children (Cit\xc3\xa9 des enfants perdus, La)");
    }
    assert_int_equal(ml_split_title("Avventura, L' (1960)", 20, t, sizeof(t)), 1960);
    assert_string_equal(t, "L'Avventura");
    assert_int_equal(ml_split_title("Babylon 5", 9, t, sizeof(t)), 0);
    assert_string_equal(t, "Babylon 5");
    assert_int_equal(ml_split_title("Stranger Things (2016-)", 23, t, sizeof(t)), 2016);
    assert_string_equal(t, "Stranger Things");
    assert_int_equal(ml_split_title("1984 (1956)", 11, t, sizeof(t)), 1956);
    assert_string_equal(t, "1984");
    {
        /* moving the article must not cut a character in half */
        char raw[1100], big[2048];
        memset(raw, 'a', 1018);
        memcpy(raw + 1018, "\xc3\xa9, The", 8);
        ml_split_title(raw, 1026, big, sizeof(big));
        assert_true(text_utf8_valid(big, strlen(big)));
    }
}

static char genre_names[19][48] = {"unknown", "Action", "Adventure", "Animation", "Children's",
                                   "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
                                   "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
                                   "Sci-Fi", "Thriller", "War", "Western"};

static void test_ml100k(void **state)
{
    struct ml_user u;
    struct ml_movie m;
    struct ml_rating r;
    struct error err;
    const char *item = "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)"
                       "|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0";
    const char *latin = "1|Cit\xe9 des enfants perdus, La (1995)|4-Feb-1995||"
                        "|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0";

    assert_int_equal(ml100k_parse_user("1|24|M|technician|85711", 23, &u, &err), 0);
    assert_int_equal(u.id, 1);
    assert_int_equal(u.age, 24);
    assert_int_equal(u.gender, 'M');
    assert_string_equal(u.occupation, "technician");
    assert_int_equal(ml100k_parse_user("1|24|X|technician|85711", 23, &u, &err), ERR_PARSE);
    assert_non_null(strstr(err.msg, "gender 'X'"));
    assert_int_equal(ml100k_parse_user("1|24|M|technician", 17, &u, &err), ERR_PARSE);

    assert_int_equal(ml100k_parse_movie(item, strlen(item), genre_names, 19, &m, &err), 0);
    assert_string_equal(m.title, "Toy Story");
    assert_int_equal(m.year, 1995);
    assert_string_equal(m.release_date, "1995-01-01");
    assert_int_equal(m.ngenres, 3);
    assert_string_equal(m.genres[0], "Animation");
    assert_string_equal(m.genres[1], "Children's");
    assert_string_equal(m.genres[2], "Comedy");
    assert_int_equal(ml100k_parse_movie(latin, strlen(latin), genre_names, 19, &m, &err), 0);
    assert_string_equal(m.title, "La Cit\xc3\xa9 des enfants perdus");
    assert_string_equal(m.release_date, "1995-02-04");

    assert_int_equal(ml100k_parse_rating("196\t242\t3\t881250949", 19, &r, &err), 0);
    assert_int_equal(r.user, 196);
    assert_int_equal(r.movie, 242);
    assert_true(r.score == 3);
    assert_int_equal(r.time, 881250949);
    assert_int_equal(ml100k_parse_rating("196\t242\t7\t881250949", 19, &r, &err), ERR_PARSE);
    assert_string_equal(err.msg, "rating '7' is outside 1..5");
    assert_int_equal(ml100k_parse_rating("196\t0\t3\t881250949", 17, &r, &err), ERR_PARSE);
    assert_non_null(strstr(err.msg, "movie id '0'"));
    assert_int_equal(ml100k_parse_rating("196 242 3 881250949", 19, &r, &err), ERR_PARSE);
}

static void test_ml1m(void **state)
{
    struct ml_user u;
    struct ml_movie m;
    struct ml_rating r;
    struct error err;
    const char *mv = "2::Jumanji (1995)::Adventure|Children's|Fantasy";

    assert_int_equal(ml1m_parse_user("1::F::1::10::48067", 18, &u, &err), 0);
    assert_int_equal(u.gender, 'F');
    assert_int_equal(u.age, 1);
    assert_string_equal(u.occupation, "K-12 student");
    assert_int_equal(ml1m_parse_user("1::F::2::10::48067", 18, &u, &err), ERR_PARSE);
    assert_int_equal(ml1m_parse_user("1::F::1::21::48067", 18, &u, &err), ERR_PARSE);
    assert_int_equal(ml1m_parse_movie(mv, strlen(mv), &m, &err), 0);
    assert_string_equal(m.title, "Jumanji");
    assert_int_equal(m.ngenres, 3);
    assert_int_equal(ml1m_parse_rating("1::1193::5::978300760", 21, &r, &err), 0);
    assert_int_equal(r.movie, 1193);
    assert_int_equal(ml1m_parse_rating("1::1193::0::978300760", 21, &r, &err), ERR_PARSE);
}

static int mll(int (*fn)(const struct csv_field *, int, void *, struct error *), const char *line,
               void *rec, struct error *err)
{
    struct csv_field f[CSV_MAX_FIELDS];
    char buf[1024];
    int nf = csv_split(line, strlen(line), f, CSV_MAX_FIELDS, buf, err);
    assert_true(nf > 0);
    return fn(f, nf, rec, err);
}

typedef int (*mll_fn)(const struct csv_field *, int, void *, struct error *);

static void test_ml_latest(void **state)
{
    struct ml_rating r;
    struct ml_movie m;
    struct ml_tag t;
    struct ml_link lk;
    struct ml_user u;
    struct error err;

    assert_int_equal(mll((mll_fn)mll_parse_rating, "1,31,2.5,1260759144", &r, &err), 0);
    assert_true(r.score == 2.5);
    assert_int_equal(mll((mll_fn)mll_parse_rating, "1,31,5.5,1260759144", &r, &err), ERR_PARSE);
    assert_string_equal(err.msg, "rating '5.5' is outside 0.5..5");
    assert_int_equal(mll((mll_fn)mll_parse_rating, "1,31,3.3,1260759144", &r, &err), ERR_PARSE);
    assert_int_equal(mll((mll_fn)mll_parse_rating, "1,31,3.5", &r, &err), ERR_PARSE);
    assert_string_equal(err.msg, "expected 4 fields, found 3");

    assert_int_equal(mll((mll_fn)mll_parse_movie,
                         "11,\"American President, The (1995)\",Comedy|Drama|Romance", &m, &err), 0);
    assert_string_equal(m.title, "The American President");
    assert_int_equal(m.year, 1995);
    assert_int_equal(m.ngenres, 3);
    assert_int_equal(mll((mll_fn)mll_parse_movie, "9,Foo (2000),(no genres listed)", &m, &err), 0);
    assert_int_equal(m.ngenres, 0);
    assert_int_equal(mll((mll_fn)mll_parse_movie, "9,Caf\xe9 (2000),Drama", &m, &err), ERR_PARSE);
    assert_non_null(strstr(err.msg, "UTF-8"));

    assert_int_equal(mll((mll_fn)mll_parse_tag, "2,60756,\"funny, dark\",1445714994", &t, &err), 0);
    assert_string_equal(t.tag, "funny, dark");
    assert_int_equal(mll((mll_fn)mll_parse_tag, "2,60756,  ,1445714994", &t, &err), ERR_PARSE);

    assert_int_equal(mll((mll_fn)mll_parse_link, "1,0114709,862", &lk, &err), 0);
    assert_string_equal(lk.imdb_id, "tt0114709");
    assert_int_equal(lk.tmdb_id, 862);
    assert_int_equal(mll((mll_fn)mll_parse_link, "791,0113610,", &lk, &err), 0);
    assert_int_equal(lk.tmdb_id, 0);
    assert_int_equal(mll((mll_fn)mll_parse_link, "1,+123,", &lk, &err), ERR_PARSE);
    assert_string_equal(err.msg, "IMDb id '+123' is not a number");

    assert_int_equal(mll((mll_fn)mll_parse_user, "5,F,33,writer", &u, &err), 0);
    assert_int_equal(u.age, 33);
    assert_int_equal(mll((mll_fn)mll_parse_user, "6,,,", &u, &err), 0);
    assert_int_equal(u.gender, 0);
    assert_int_equal(mll((mll_fn)mll_parse_user, "6,Q,3,x", &u, &err), ERR_PARSE);
}

static void test_formats(void **state)
{
    assert_int_equal(ml_format_parse("ml-100k"), ML_100K);
    assert_int_equal(ml_format_parse("ml-25m"), ML_LATEST);
    assert_int_equal(ml_format_parse("ml-1m"), ML_1M);
    assert_int_equal(ml_format_parse("netflix"), ML_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),   cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_csv_split), cmocka_unit_test(test_csv_records),
        cmocka_unit_test(test_titles),    cmocka_unit_test(test_ml100k),
        cmocka_unit_test(test_ml1m),      cmocka_unit_test(test_ml_latest),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
