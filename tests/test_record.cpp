// The TLV format and the reader: layout, padding, and every fault the reader reports.
#define BOOST_TEST_MODULE record
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

using namespace tracebuf;

namespace {

struct aligned_bytes {
    explicit aligned_bytes(std::size_t n) : words((n + 7) / 8, 0) {}
    unsigned char* data() { return reinterpret_cast<unsigned char*>(words.data()); }
    std::vector<std::uint64_t> words;
};

std::uint16_t u16_at(const unsigned char* p) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(footprint_is_header_plus_payload_rounded_to_8) {
    BOOST_TEST(record_footprint(0) == 8u);
    BOOST_TEST(record_footprint(4) == 8u);
    BOOST_TEST(record_footprint(5) == 16u);
    BOOST_TEST(record_footprint(12) == 16u);
    BOOST_TEST(record_footprint(4092) == 4096u);
}

BOOST_AUTO_TEST_CASE(put_record_lays_out_tag_length_payload) {
    aligned_bytes buf(32);
    const unsigned char payload[5] = {1, 2, 3, 4, 5};
    void* next = put_record(buf.data(), 0x4d41, payload, sizeof payload);
    BOOST_TEST(static_cast<unsigned char*>(next) - buf.data() == 16);
    BOOST_TEST(u16_at(buf.data()) == 0x4d41);
    BOOST_TEST(u16_at(buf.data() + 2) == 9); // header + payload, unpadded
    BOOST_TEST(std::memcmp(buf.data() + 4, payload, 5) == 0);
    BOOST_TEST(buf.data()[9] == 0); // padding untouched (zero)
}

BOOST_AUTO_TEST_CASE(padding_covers_any_multiple_of_8_with_valid_records) {
    for (std::size_t n = 8; n <= 3 * 4096 + 64; n += 8) {
        aligned_bytes buf(n);
        write_padding(buf.data(), n, 4096);
        std::size_t covered = 0;
        const scan_result r = scan_records(
            buf.data(), n, 4096, [&](std::uint16_t tag, const unsigned char*, std::size_t size, std::size_t) {
                BOOST_REQUIRE(tag == tags::padding);
                covered += record_footprint(size);
            });
        BOOST_REQUIRE(r.ok());
        BOOST_REQUIRE(covered == n);
        BOOST_REQUIRE(r.records == (n + 4095) / 4096);
    }
}

BOOST_AUTO_TEST_CASE(reader_visits_records_in_order_with_offsets) {
    aligned_bytes buf(64);
    unsigned char* p = buf.data();
    const std::uint32_t a = 7, b = 8;
    p = static_cast<unsigned char*>(put_record(p, 1, &a, 4));
    p = static_cast<unsigned char*>(put_record(p, 2, &b, 4));
    put_record(p, 3, nullptr, 0);
    std::vector<std::size_t> offsets;
    std::vector<std::uint16_t> tags_seen;
    const scan_result r = scan_records(
        buf.data(), 24, 4096, [&](std::uint16_t tag, const unsigned char*, std::size_t, std::size_t off) {
            tags_seen.push_back(tag);
            offsets.push_back(off);
        });
    BOOST_TEST(r.ok());
    BOOST_TEST(r.records == 3u);
    BOOST_TEST(r.valid_bytes == 24u);
    BOOST_TEST((tags_seen == std::vector<std::uint16_t>{1, 2, 3}));
    BOOST_TEST((offsets == std::vector<std::size_t>{0, 8, 16}));
}

BOOST_AUTO_TEST_CASE(reader_reports_offset_and_reason_of_first_bad_record) {
    aligned_bytes buf(64);
    const std::uint32_t v = 1;
    put_record(buf.data(), 1, &v, 4);
    // [8, 16) stays zero: a hole.
    scan_result r = scan_records(buf.data(), 32, 4096);
    BOOST_TEST(!r.ok());
    BOOST_TEST((r.fault == record_fault::hole));
    BOOST_TEST(r.valid_bytes == 8u);
    BOOST_TEST(r.records == 1u);

    record_header h{5, 2}; // shorter than its own header
    std::memcpy(buf.data() + 8, &h, 4);
    r = scan_records(buf.data(), 32, 4096);
    BOOST_TEST((r.fault == record_fault::short_length));
    BOOST_TEST(r.valid_bytes == 8u);

    h = record_header{5, 200}; // above a 128-byte maximum
    std::memcpy(buf.data() + 8, &h, 4);
    r = scan_records(buf.data(), 32, 128);
    BOOST_TEST((r.fault == record_fault::long_length));

    h = record_header{5, 40}; // runs past the 32-byte range
    std::memcpy(buf.data() + 8, &h, 4);
    r = scan_records(buf.data(), 32, 4096);
    BOOST_TEST((r.fault == record_fault::truncated));
    BOOST_TEST(r.valid_bytes == 8u);

    r = scan_records(buf.data(), 10, 4096); // 2 bytes: not even a header
    BOOST_TEST((r.fault == record_fault::truncated));
}

BOOST_AUTO_TEST_CASE(empty_range_is_valid) {
    const scan_result r = scan_records(nullptr, 0, 4096);
    BOOST_TEST(r.ok());
    BOOST_TEST(r.records == 0u);
}
