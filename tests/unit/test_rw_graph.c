/* Unit tests for the recording worker's filter graph
 * (mod_meeting/recworker/graph.c, mm_rw_graph): the grid's layout for 1 to
 * 5 videos, each video and audio delayed by its offset, and the black or
 * silent source standing in for a missing kind. */
#include <check.h>
#include <string.h>

#include "recworker/graph.h"
#include "check_main.h"

static char g[16384];

static const char *graph(const mm_rw_input *in, int n)
{
    ck_assert_int_eq(mm_rw_graph(in, n, 1280, 720, 15, g, sizeof(g)), 0);
    return g;
}

START_TEST(three_videos_make_a_two_by_two_grid)
{
    mm_rw_input in[] = {{'v', 0}, {'a', 0}, {'v', 1.5}, {'a', 1.5}, {'v', 3}, {'a', 3}};

    graph(in, 6);
    ck_assert_ptr_nonnull(strstr(g, "[0:v]scale=640:360:"));
    ck_assert_ptr_nonnull(strstr(g, "[2:v]scale=640:360:"));
    ck_assert_ptr_nonnull(strstr(g, "tpad=start_duration=1.500:stop=-1:color=black[v1];"));
    ck_assert_ptr_nonnull(strstr(g, "tpad=start_duration=3.000:stop=-1:color=black[v2];"));
    ck_assert_ptr_nonnull(strstr(g, "[v0][v1][v2]xstack=inputs=3:layout=0_0|640_0|0_360:"
                                    "fill=black,pad=1280:720[v];"));
    ck_assert_ptr_nonnull(strstr(g, "[3:a]aresample=48000,adelay=1500:all=1[a1];"));
    ck_assert_ptr_nonnull(strstr(g, "[5:a]aresample=48000,adelay=3000:all=1[a2];"));
    ck_assert_ptr_nonnull(strstr(g, "[a0][a1][a2]amix=inputs=3:normalize=0:duration=longest[a]"));
}
END_TEST

START_TEST(layouts_follow_the_number_of_videos)
{
    mm_rw_input two[] = {{'v', 0}, {'v', 0}};
    mm_rw_input five[] = {{'v', 0}, {'v', 0}, {'v', 0}, {'v', 0}, {'v', 0}};

    graph(two, 2);
    ck_assert_ptr_nonnull(strstr(g, "scale=640:720:"));
    ck_assert_ptr_nonnull(strstr(g, "layout=0_0|640_0:"));
    graph(five, 5);
    ck_assert_ptr_nonnull(strstr(g, "scale=426:360:"));
    ck_assert_ptr_nonnull(strstr(g, "layout=0_0|426_0|852_0|0_360|426_360:"));
}
END_TEST

START_TEST(one_video_fills_the_canvas_without_xstack)
{
    mm_rw_input in[] = {{'a', 0}, {'v', 0.25}};

    graph(in, 2);
    ck_assert_ptr_nonnull(strstr(g, "[1:v]scale=1280:720:"));
    ck_assert_ptr_nonnull(strstr(g, "[v0]pad=1280:720:(ow-iw)/2:(oh-ih)/2[v];"));
    ck_assert_ptr_nonnull(strstr(g, "[a0]anull[a]"));
    ck_assert_ptr_null(strstr(g, "xstack"));
    ck_assert_ptr_null(strstr(g, "amix"));
}
END_TEST

START_TEST(missing_kinds_take_the_extra_sources)
{
    mm_rw_input audio_only[] = {{'a', 0}, {'a', 2}};
    mm_rw_input video_only[] = {{'v', 0}};

    graph(audio_only, 2);
    ck_assert_ptr_nonnull(strstr(g, "[2:v]null[v];"));     /* the black source */
    graph(video_only, 1);
    ck_assert_ptr_nonnull(strstr(g, "[1:a]anull[a]"));     /* the silent source */
}
END_TEST

START_TEST(a_graph_that_does_not_fit_is_refused)
{
    mm_rw_input in[] = {{'v', 0}, {'v', 0}, {'a', 0}};
    char small[64];

    ck_assert_int_eq(mm_rw_graph(in, 3, 1280, 720, 15, small, sizeof(small)), -1);
}
END_TEST

static Suite *rw_graph_suite(void)
{
    Suite *s = suite_create("rw_graph");
    TCase *tc = tcase_create("graph");

    tcase_add_test(tc, three_videos_make_a_two_by_two_grid);
    tcase_add_test(tc, layouts_follow_the_number_of_videos);
    tcase_add_test(tc, one_video_fills_the_canvas_without_xstack);
    tcase_add_test(tc, missing_kinds_take_the_extra_sources);
    tcase_add_test(tc, a_graph_that_does_not_fit_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(rw_graph_suite)
