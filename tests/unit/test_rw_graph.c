/* Unit tests for the recording worker's filter graph
 * (mod_meeting/recworker/graph.c, mm_rw_graph): the grid follows who was
 * publishing when (a layout per stretch of time, joined with concat), the
 * layouts for 1 to 5 videos, each audio delayed by its offset, and the black
 * or silent source standing in for a missing kind. */
#include <check.h>
#include <string.h>

#include "recworker/graph.h"
#include "check_main.h"

static char g[32768];

static const char *graph(const mm_rw_input *in, int n)
{
    ck_assert_int_eq(mm_rw_graph(in, n, 1280, 720, 15, g, sizeof(g)), 0);
    return g;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(publishers_together_share_one_grid)
{
    /* Starts within MM_RW_MIN_LAYOUT of each other, to the end: one layout,
     * no concat. */
    mm_rw_input in[] = {{'v', 0, 0}, {'a', 0, 0}, {'v', 0.4, 0}, {'a', 0.4, 0},
                        {'v', 0.7, 0}, {'a', 0.7, 0}};

    graph(in, 6);
    ck_assert_ptr_null(strstr(g, "concat"));
    ck_assert_ptr_nonnull(strstr(g, "[2:v]fps=15,tpad=start_duration=0.400:stop=-1:"
                                    "color=black,split=1[c1_0];"));
    ck_assert_ptr_nonnull(strstr(g, "[c2_0]trim=start=0.000,setpts=PTS-STARTPTS,"
                                    "scale=640:360:"));
    ck_assert_ptr_nonnull(strstr(g, "[t0_0][t0_1][t0_2]xstack=inputs=3:"
                                    "layout=0_0|640_0|0_360:fill=black,pad=1280:720[v];"));
    ck_assert_ptr_nonnull(strstr(g, "[3:a]aresample=48000,adelay=400:all=1[a1];"));
    ck_assert_ptr_nonnull(strstr(g, "[5:a]aresample=48000,adelay=700:all=1[a2];"));
    ck_assert_ptr_nonnull(strstr(g, "[a0][a1][a2]amix=inputs=3:normalize=0:duration=longest[a]"));
}
END_TEST

START_TEST(the_grid_reflows_as_people_join_and_leave)
{
    /* A from 0 to 20 s, B joins at 5 s, C at 10 s and leaves at 15 s. */
    mm_rw_input in[] = {{'v', 0, 20}, {'v', 5, 15}, {'v', 10, 5}};

    graph(in, 3);
    /* 0-5: A alone on the whole canvas. */
    ck_assert_ptr_nonnull(strstr(g, "[c0_0]trim=start=0.000:end=5.000,setpts=PTS-STARTPTS,"
                                    "scale=1280:720:"));
    ck_assert_ptr_nonnull(strstr(g, "[t0_0]pad=1280:720:(ow-iw)/2:(oh-ih)/2[p0];"));
    /* 5-10: A and B side by side. */
    ck_assert_ptr_nonnull(strstr(g, "[c1_0]trim=start=5.000:end=10.000,setpts=PTS-STARTPTS,"
                                    "scale=640:720:"));
    ck_assert_ptr_nonnull(strstr(g, "layout=0_0|640_0:fill=black,pad=1280:720[p1];"));
    /* 10-15: three in a 2x2 grid. */
    ck_assert_ptr_nonnull(strstr(g, "[c2_0]trim=start=10.000:end=15.000,"));
    ck_assert_ptr_nonnull(strstr(g, "xstack=inputs=3:layout=0_0|640_0|0_360:fill=black,"
                                    "pad=1280:720[p2];"));
    /* 15-20: A and B again, 20 on: nobody (black). */
    ck_assert_ptr_nonnull(strstr(g, "[c0_3]trim=start=15.000:end=20.000,"));
    ck_assert_ptr_nonnull(strstr(g, "[c1_2]trim=start=15.000:end=20.000,"));
    ck_assert_ptr_nonnull(strstr(g, "color=c=black:s=1280x720:r=15,setsar=1[p4];"));
    ck_assert_ptr_nonnull(strstr(g, "[p0][p1][p2][p3][p4]concat=n=5:v=1:a=0[v];"));
    /* Each video is split once per stretch that shows it. */
    ck_assert_ptr_nonnull(strstr(g, "split=4[c0_0][c0_1][c0_2][c0_3];"));
    ck_assert_ptr_nonnull(strstr(g, "split=3[c1_0][c1_1][c1_2];"));
    ck_assert_ptr_nonnull(strstr(g, "split=1[c2_0];"));
    ck_assert_int_eq(count(g, "trim="), 1 + 2 + 3 + 2);
}
END_TEST

START_TEST(one_leaving_just_before_the_others_is_a_layout_of_its_own)
{
    /* C ends at 9 s, A and B at 9.6 and 9.8 s (within MM_RW_MIN_LAYOUT of
     * that): three tiles until 9 s, then A and B side by side. */
    mm_rw_input in[] = {{'v', 0, 9.6}, {'v', 0.4, 9.4}, {'v', 0.7, 8.3}};

    graph(in, 3);
    ck_assert_ptr_nonnull(strstr(g, "[c2_0]trim=start=0.000:end=9.000,"));
    ck_assert_ptr_nonnull(strstr(g, "[c0_1]trim=start=9.000,setpts=PTS-STARTPTS,scale=640:720:"));
    ck_assert_ptr_nonnull(strstr(g, "[c1_1]trim=start=9.000,"));
    ck_assert_ptr_nonnull(strstr(g, "concat=n=2:v=1:a=0[v];"));
}
END_TEST

START_TEST(a_gap_with_nobody_publishing_is_black_for_its_length)
{
    mm_rw_input in[] = {{'v', 0, 5}, {'v', 8, 4}, {'a', 0, 12}};

    graph(in, 3);
    ck_assert_ptr_nonnull(strstr(g, "color=c=black:s=1280x720:r=15:d=3.000,setsar=1[p1];"));
    ck_assert_ptr_nonnull(strstr(g, "[c1_0]trim=start=8.000:end=12.000,"));
}
END_TEST

START_TEST(an_unknown_length_lasts_to_the_end)
{
    mm_rw_input in[] = {{'v', 0, 0}, {'v', 3, -1}};

    graph(in, 2);
    ck_assert_ptr_nonnull(strstr(g, "[c0_0]trim=start=0.000:end=3.000,"));
    ck_assert_ptr_nonnull(strstr(g, "[c0_1]trim=start=3.000,setpts"));
    ck_assert_ptr_nonnull(strstr(g, "[c1_0]trim=start=3.000,setpts"));
    ck_assert_ptr_nonnull(strstr(g, "concat=n=2:v=1:a=0[v];"));
}
END_TEST

START_TEST(cuts_fall_on_frame_ticks)
{
    /* 1.5 s is between frames 22 and 23 at 15 fps. */
    mm_rw_input in[] = {{'v', 0, 0}, {'v', 1.5, 0}};

    graph(in, 2);
    ck_assert_ptr_nonnull(strstr(g, "trim=start=0.000:end=1.533,"));
    ck_assert_ptr_nonnull(strstr(g, "tpad=start_duration=1.500:"));
}
END_TEST

START_TEST(layouts_follow_the_number_of_videos)
{
    mm_rw_input two[] = {{'v', 0, 0}, {'v', 0, 0}};
    mm_rw_input five[] = {{'v', 0, 0}, {'v', 0, 0}, {'v', 0, 0}, {'v', 0, 0}, {'v', 0, 0}};

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
    mm_rw_input in[] = {{'a', 0, 0}, {'v', 0.25, 0}};

    graph(in, 2);
    ck_assert_ptr_nonnull(strstr(g, "[1:v]fps=15,tpad=start_duration=0.250:"));
    ck_assert_ptr_nonnull(strstr(g, "scale=1280:720:"));
    ck_assert_ptr_nonnull(strstr(g, "[t0_0]pad=1280:720:(ow-iw)/2:(oh-ih)/2[v];"));
    ck_assert_ptr_nonnull(strstr(g, "[a0]anull[a]"));
    ck_assert_ptr_null(strstr(g, "xstack"));
    ck_assert_ptr_null(strstr(g, "amix"));
    ck_assert_ptr_null(strstr(g, "concat"));
}
END_TEST

START_TEST(missing_kinds_take_the_extra_sources)
{
    mm_rw_input audio_only[] = {{'a', 0, 0}, {'a', 2, 0}};
    mm_rw_input video_only[] = {{'v', 0, 0}};

    graph(audio_only, 2);
    ck_assert_ptr_nonnull(strstr(g, "[2:v]null[v];"));     /* the black source */
    graph(video_only, 1);
    ck_assert_ptr_nonnull(strstr(g, "[1:a]anull[a]"));     /* the silent source */
}
END_TEST

START_TEST(a_graph_that_does_not_fit_is_refused)
{
    mm_rw_input in[] = {{'v', 0, 0}, {'v', 0, 0}, {'a', 0, 0}};
    char small[64];

    ck_assert_int_eq(mm_rw_graph(in, 3, 1280, 720, 15, small, sizeof(small)), -1);
}
END_TEST

static Suite *rw_graph_suite(void)
{
    Suite *s = suite_create("rw_graph");
    TCase *tc = tcase_create("graph");

    tcase_add_test(tc, publishers_together_share_one_grid);
    tcase_add_test(tc, the_grid_reflows_as_people_join_and_leave);
    tcase_add_test(tc, one_leaving_just_before_the_others_is_a_layout_of_its_own);
    tcase_add_test(tc, a_gap_with_nobody_publishing_is_black_for_its_length);
    tcase_add_test(tc, an_unknown_length_lasts_to_the_end);
    tcase_add_test(tc, cuts_fall_on_frame_ticks);
    tcase_add_test(tc, layouts_follow_the_number_of_videos);
    tcase_add_test(tc, one_video_fills_the_canvas_without_xstack);
    tcase_add_test(tc, missing_kinds_take_the_extra_sources);
    tcase_add_test(tc, a_graph_that_does_not_fit_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(rw_graph_suite)
