/* SPDX-License-Identifier: MIT */
/* test_cxx.cpp — seqtick.h from C++ (built as C++17 and C++20, warnings are
 * errors): the layout the C++ compiler sees is layout v1, and quotes written
 * by the C writer read back exactly through the inline seqlock reader, the
 * STK_LOAD macro and the exported calls, also while the writer runs. */
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <type_traits>

#include "cxx_writer.h"
#include "seqtick.h"

#include <check.h> /* last: it defines a macro `fail` the C++ library uses */

/* ---- layout v1 as the C++ compiler lays it out (docs/layout.md) --------- */

static_assert(std::is_same<decltype(stk_record::seq), std::atomic<uint64_t>>::value,
              "STK_ATOMIC is std::atomic in C++");
static_assert(std::is_same<decltype(stk_record::price), std::atomic<int64_t>>::value, "");
static_assert(std::is_same<decltype(stk_record::bid_size), std::atomic<uint32_t>>::value, "");
static_assert(std::is_standard_layout<stk_header>::value, "offsetof needs standard layout");
static_assert(std::is_standard_layout<stk_record>::value, "");
static_assert(std::is_standard_layout<struct stk_ring_head>::value, "");
static_assert(std::is_trivially_copyable<stk_quote>::value, "stk_quote is a plain copy");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "");

static_assert(sizeof(stk_header) == 4096, "");
static_assert(offsetof(stk_header, magic) == 0, "");
static_assert(offsetof(stk_header, abi_version) == 8, "");
static_assert(offsetof(stk_header, header_bytes) == 12, "");
static_assert(offsetof(stk_header, record_bytes) == 16, "");
static_assert(offsetof(stk_header, capacity) == 20, "");
static_assert(offsetof(stk_header, history) == 24, "");
static_assert(offsetof(stk_header, price_decimals) == 28, "");
static_assert(offsetof(stk_header, total_bytes) == 32, "");
static_assert(offsetof(stk_header, created_ns) == 40, "");
static_assert(offsetof(stk_header, generation) == 48, "");
static_assert(offsetof(stk_header, state) == 56, "");
static_assert(offsetof(stk_header, nsymbols) == 60, "");
static_assert(offsetof(stk_header, epoch) == 64, "");
static_assert(offsetof(stk_header, last_update_ns) == 72, "");
static_assert(offsetof(stk_header, futex) == 80, "");
static_assert(offsetof(stk_header, producer_heartbeat_ns) == 128, "");
static_assert(offsetof(stk_header, producer_pid) == 136, "");
static_assert(offsetof(stk_header, ticks_total) == 192, "");
static_assert(offsetof(stk_header, repaired) == 224, "");
static_assert(sizeof(stk_symbol) == 64 && offsetof(stk_symbol, index) == 32, "");
static_assert(sizeof(stk_record) == 64 && alignof(stk_record) == 64, "");
static_assert(offsetof(stk_record, seq) == 0, "");
static_assert(offsetof(stk_record, price) == 8, "");
static_assert(offsetof(stk_record, bid) == 16, "");
static_assert(offsetof(stk_record, ask) == 24, "");
static_assert(offsetof(stk_record, volume) == 32, "");
static_assert(offsetof(stk_record, src_ts_ns) == 40, "");
static_assert(offsetof(stk_record, pub_ts_ns) == 48, "");
static_assert(offsetof(stk_record, bid_size) == 56, "");
static_assert(offsetof(stk_record, ask_size) == 60, "");
static_assert(sizeof(struct stk_ring_head) == 64, "");
static_assert(STK_OFF_RECORDS(10) == 4096 + 640 && STK_OFF_HEADS(10) == 4096 + 2 * 640 &&
                  STK_OFF_SLOTS(10) == 4096 + 3 * 640,
              "region offsets are constant expressions in C++ too");

/* ---- helpers ------------------------------------------------------------ */

namespace
{

const uint32_t CAP = 4, HIST = 8;

/* Every field distinct and using the high bits, so a field read at the
 * wrong offset or width cannot pass. */
stk_quote quote_of(uint64_t v)
{
    stk_quote q = {};
    q.price = 18925000000LL + static_cast<int64_t>(v);
    q.bid = -(0x123456789aLL + static_cast<int64_t>(v));
    q.ask = 0x7edcba9876543210LL - static_cast<int64_t>(v);
    q.volume = 0xfedcba9876543210ULL - v;
    q.src_ts_ns = 1700000000000000000ULL + v;
    q.pub_ts_ns = 1700000000000000777ULL + v;
    q.bid_size = 0xfffffff0u + static_cast<uint32_t>(v & 7);
    q.ask_size = 100000u + static_cast<uint32_t>(v);
    return q;
}

void assert_quote_is(const stk_quote &q, uint64_t v)
{
    stk_quote e = quote_of(v);
    ck_assert_int_eq(q.price, e.price);
    ck_assert_int_eq(q.bid, e.bid);
    ck_assert_int_eq(q.ask, e.ask);
    ck_assert_uint_eq(q.volume, e.volume);
    ck_assert_uint_eq(q.src_ts_ns, e.src_ts_ns);
    ck_assert_uint_eq(q.pub_ts_ns, e.pub_ts_ns);
    ck_assert_uint_eq(q.bid_size, e.bid_size);
    ck_assert_uint_eq(q.ask_size, e.ask_size);
}

template <typename T> T at(const void *base, std::size_t off)
{
    T v;
    std::memcpy(&v, static_cast<const char *>(base) + off, sizeof(v));
    return v;
}

/* A writer with two symbols on a fresh segment, and a reader on it. */
struct Fixture {
    stk_seg *w = nullptr, *r = nullptr;
    const char *name = nullptr;

    Fixture()
    {
        int err = 0;
        w = cxxw_create("cxx", CAP, HIST, &name, &err);
        ck_assert_msg(w != nullptr, "writer: %s", stk_strerror(err));
        ck_assert_int_eq(cxxw_add(w, "AAPL"), 0);
        ck_assert_int_eq(cxxw_add(w, "BRK.B"), 1);
        ck_assert_int_eq(stk_seg_open(name, &r), 0);
    }
    ~Fixture()
    {
        stk_seg_close(r);
        cxxw_destroy(w, name);
    }
    Fixture(const Fixture &) = delete;
    Fixture &operator=(const Fixture &) = delete;
};

} /* namespace */

/* ---- tests -------------------------------------------------------------- */

/* The header and a record as C++ sees them are the bytes the C writer wrote. */
START_TEST(test_layout_bytes)
{
    Fixture f;
    stk_quote in = quote_of(5);
    cxxw_publish(f.w, 1, &in);

    const stk_header *h = stk_seg_header(f.r);
    ck_assert_int_eq(std::memcmp(h->magic, STK_MAGIC, 8), 0);
    ck_assert_uint_eq(h->abi_version, STK_ABI_VERSION);
    ck_assert_uint_eq(h->capacity, CAP);
    ck_assert_uint_eq(h->history, HIST);
    ck_assert_uint_eq(h->price_decimals, STK_PRICE_DECIMALS);
    ck_assert_uint_eq(STK_LOAD(&h->generation, acquire), 1);
    ck_assert_uint_eq(STK_LOAD(&h->state, acquire), STK_STATE_LIVE);
    ck_assert_uint_eq(h->nsymbols.load(std::memory_order_acquire), 2);
    ck_assert_uint_eq(STK_LOAD(&h->epoch, relaxed), 2); /* one batch */
    ck_assert_uint_eq(STK_LOAD(&h->last_update_ns, relaxed), in.pub_ts_ns);
    ck_assert_uint_eq(STK_LOAD(&h->ticks_total, relaxed), 1);
    ck_assert_uint_eq(at<uint32_t>(h, 60), 2); /* nsymbols by offset */

    const stk_record *rec = stk_seg_record(f.r, 1);
    const char *base = reinterpret_cast<const char *>(h);
    ck_assert_uint_eq(static_cast<uint64_t>(reinterpret_cast<const char *>(rec) - base),
                      STK_OFF_RECORDS(CAP) + 64);
    ck_assert_uint_eq(at<uint64_t>(rec, 0), 2); /* seq after one write */
    ck_assert_int_eq(at<int64_t>(rec, 8), in.price);
    ck_assert_int_eq(at<int64_t>(rec, 16), in.bid);
    ck_assert_int_eq(at<int64_t>(rec, 24), in.ask);
    ck_assert_uint_eq(at<uint64_t>(rec, 32), in.volume);
    ck_assert_uint_eq(at<uint64_t>(rec, 40), in.src_ts_ns);
    ck_assert_uint_eq(at<uint64_t>(rec, 48), in.pub_ts_ns);
    ck_assert_uint_eq(at<uint32_t>(rec, 56), in.bid_size);
    ck_assert_uint_eq(at<uint32_t>(rec, 60), in.ask_size);
    ck_assert_int_eq(rec->price.load(std::memory_order_relaxed), in.price);
    ck_assert_uint_eq(STK_LOAD(&rec->ask_size, relaxed), in.ask_size);

    /* ring head and slot 0 of symbol 1, found by the region macros */
    auto head = reinterpret_cast<const struct stk_ring_head *>(base + STK_OFF_HEADS(CAP) + 64);
    ck_assert_uint_eq(STK_LOAD(&head->head, acquire), 1);
    ck_assert_uint_eq(stk_ring_head(f.r, 1), 1);
    auto slot =
        reinterpret_cast<const stk_record *>(base + STK_OFF_SLOTS(CAP) + std::size_t{HIST} * 64);
    stk_quote q;
    ck_assert_int_eq(stk_record_load(slot, &q), 0);
    ck_assert_uint_eq(q.seq, 2); /* 2k+2 for tick k = 0 */
    assert_quote_is(q, 5);
}
END_TEST

/* The inline reader, the exported calls and the history all agree, exactly. */
START_TEST(test_read_back)
{
    Fixture f;
    ck_assert_uint_eq(stk_seg_nsymbols(f.r), 2);
    ck_assert_str_eq(stk_seg_symbol(f.r, 1), "BRK.B");
    ck_assert_ptr_null(stk_seg_symbol(f.r, 2));
    ck_assert_int_eq(stk_seg_lookup(f.r, "BRK.B"), 1);
    ck_assert_int_eq(stk_seg_lookup(f.r, "MSFT"), -ENOENT);
    ck_assert_str_eq(stk_seg_name(f.r), f.name);

    stk_quote q;
    ck_assert_int_eq(stk_record_load(stk_seg_record(f.r, 0), &q), -ENODATA);
    ck_assert_uint_eq(q.pub_ts_ns, 0);
    ck_assert_int_eq(stk_quote_read(f.r, 0, &q), -ENODATA);
    ck_assert_int_eq(stk_quote_read(f.r, 2, &q), -ERANGE);

    uint64_t epoch = stk_seg_epoch(f.r);
    for (uint64_t v = 1; v <= 11; v++) { /* 11 ticks: the ring of 8 laps */
        stk_quote in = quote_of(v);
        cxxw_publish(f.w, 0, &in);
    }
    ck_assert_uint_eq(stk_seg_epoch(f.r), epoch + 22);

    ck_assert_int_eq(stk_record_load(stk_seg_record(f.r, 0), &q), 0);
    ck_assert_uint_eq(q.seq, 22); /* eleven writes, two per write */
    assert_quote_is(q, 11);
    stk_quote fields = {};
    stk_record_fields(stk_seg_record(f.r, 0), &fields);
    assert_quote_is(fields, 11);
    stk_quote viacall;
    ck_assert_int_eq(stk_quote_read(f.r, 0, &viacall), 0);
    ck_assert_int_eq(std::memcmp(&viacall, &q, sizeof(q)), 0);

    ck_assert_uint_eq(stk_ring_head(f.r, 0), 11);
    stk_quote hist[HIST + 2];
    ck_assert_int_eq(stk_history_read(f.r, 0, hist, HIST + 2), static_cast<int>(HIST));
    for (uint32_t k = 0; k < HIST; k++) {
        ck_assert_uint_eq(hist[k].seq, 3 + k); /* ticks 3..10 are values 4..11 */
        assert_quote_is(hist[k], 4 + k);
    }
    ck_assert_int_eq(stk_tick_read(f.r, 0, 10, &q), 0);
    assert_quote_is(q, 11);
    ck_assert_int_eq(stk_tick_read(f.r, 0, 2, &q), -ESTALE); /* lapped */
    ck_assert_int_eq(stk_tick_read(f.r, 0, 11, &q), -EAGAIN);

    uint64_t seen[CAP] = {};
    uint32_t changed[CAP];
    ck_assert_uint_eq(stk_seg_changed(f.r, seen, CAP, changed), 1);
    ck_assert_uint_eq(changed[0], 0);
    ck_assert_uint_eq(seen[0], 22);

    char buf[STK_DECIMAL_MAX];
    ck_assert_int_eq(stk_decimal_format(quote_of(0).price, buf, sizeof(buf)), 6);
    ck_assert_str_eq(buf, "189.25");
}
END_TEST

/* A record left odd: the inline reader gives up with -EBUSY after its spins;
 * made even again, it reads. The futex wait times out, then wakes. */
START_TEST(test_busy_and_wait)
{
    Fixture f;
    stk_quote q = quote_of(3);
    cxxw_publish(f.w, 1, &q);
    cxxw_set_seq(f.w, 1, 3); /* a writer that stopped mid-write */
    ck_assert_int_eq(stk_record_load(stk_seg_record(f.r, 1), &q), -EBUSY);
    cxxw_set_seq(f.w, 1, 4);
    ck_assert_int_eq(stk_record_load(stk_seg_record(f.r, 1), &q), 0);
    ck_assert_uint_eq(q.seq, 4);
    assert_quote_is(q, 3);

    uint64_t seen = stk_seg_epoch(f.r);
    ck_assert_int_eq(stk_seg_wait(f.r, seen, 20), -ETIMEDOUT);
    std::thread t([&f] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        stk_quote later = quote_of(4);
        cxxw_publish(f.w, 1, &later);
    });
    int r = stk_seg_wait(f.r, seen, 5000);
    t.join();
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(stk_quote_read(f.r, 1, &q), 0);
    assert_quote_is(q, 4);
}
END_TEST

/* While a writer thread publishes as fast as it can, every copy the C++
 * reader accepts is one whole quote (all fields from the same value), and
 * the values never go back. The run lasts 300 ms and until the reader has
 * seen enough (a loaded CI machine may give the two threads few slices),
 * 30 s at most. */
START_TEST(test_no_torn_copies)
{
    Fixture f;
    std::atomic<bool> done{false};
    std::thread writer([&f, &done] {
        for (uint64_t v = 1; !done.load(std::memory_order_relaxed); v++) {
            stk_quote q = quote_of(v);
            cxxw_publish(f.w, 0, &q);
        }
    });
    const stk_record *rec = stk_seg_record(f.r, 0);
    long reads = 0;
    uint64_t last = 0, distinct = 0;
    bool torn = false, backwards = false;
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
        auto ran = std::chrono::steady_clock::now() - t0;
        if ((ran >= std::chrono::milliseconds(300) && reads > 100 && distinct > 10) ||
            ran >= std::chrono::seconds(30))
            break;
        stk_quote q;
        int r = stk_record_load(rec, &q);
        if (r < 0)
            continue; /* -ENODATA before the first write; -EBUSY: spun out */
        reads++;
        uint64_t v = static_cast<uint64_t>(q.price - 18925000000LL);
        stk_quote e = quote_of(v);
        torn |= q.bid != e.bid || q.ask != e.ask || q.volume != e.volume ||
                q.src_ts_ns != e.src_ts_ns || q.pub_ts_ns != e.pub_ts_ns ||
                q.bid_size != e.bid_size || q.ask_size != e.ask_size || q.seq != 2 * v;
        backwards |= v < last;
        distinct += v != last;
        last = v;
    }
    done.store(true, std::memory_order_relaxed);
    writer.join();
    ck_assert_msg(!torn, "a torn copy passed the seqlock");
    ck_assert_msg(!backwards, "a copy older than the previous one");
    ck_assert_int_gt(reads, 100);
    ck_assert_uint_gt(distinct, 10);
    stk_quote q;
    ck_assert_int_eq(stk_quote_read(f.r, 0, &q), 0);
    ck_assert_uint_ge(q.price - 18925000000LL, last);
}
END_TEST

int main()
{
    Suite *s = suite_create("cxx");
    TCase *layout = tcase_create("layout");
    tcase_add_test(layout, test_layout_bytes);
    suite_add_tcase(s, layout);
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_read_back);
    tcase_add_test(core, test_busy_and_wait);
    tcase_add_test(core, test_no_torn_copies);
    suite_add_tcase(s, core);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
