#include "unit.h"

#include "domain/ip_number.h"

#include <string.h>

TEST(ip_patent_numbers)
{
    char c[64];
    CHECK(ip_number_error("patent", "201710601862.3", c, sizeof c) == NULL); /* the textbook example */
    CHECK(ip_number_error("patent", "ZL201710601862.3", c, sizeof c) == NULL);
    CHECK(!strcmp(c, "ZL201710601862.3"));
    CHECK(ip_number_error("patent", "ZL2023 1 0123456.6", c, sizeof c) == NULL);
    CHECK(!strcmp(c, "ZL202310123456.6"));
    CHECK(ip_number_error("patent", "zl202310123456.6", c, sizeof c) == NULL);
    CHECK(ip_number_error("patent", "ZL95115608.X", c, sizeof c) == NULL);       /* 8 digits, check X */
    CHECK(ip_number_error("patent", "ZL2023 1 0123456.7", c, sizeof c) != NULL); /* wrong check */
    CHECK(ip_number_error("patent", "ZL202340123456.3", c, sizeof c) != NULL);   /* type 4 */
    CHECK(ip_number_error("patent", "ZL20231012345.6", c, sizeof c) != NULL);    /* 11 digits */
    CHECK(ip_number_error("patent", "ZL2023101234566", c, sizeof c) != NULL);    /* no dot */
    CHECK(ip_number_error("patent", "ZL19991012345.6", c, sizeof c) != NULL);
    CHECK(ip_number_error("patent", "abc", c, sizeof c) != NULL);
    CHECK(ip_number_error("patent", NULL, c, sizeof c) == NULL); /* none given */
}

TEST(ip_other_numbers)
{
    char c[64];
    CHECK(ip_number_error("software_copyright", "2023SR0123456", c, sizeof c) == NULL);
    CHECK(ip_number_error("software_copyright", "2023sr012345", c, sizeof c) == NULL);
    CHECK(ip_number_error("software_copyright", "SR2023", c, sizeof c) != NULL);
    CHECK(ip_number_error("know_how", "123", c, sizeof c) != NULL);
    CHECK(ip_number_error("know_how", NULL, c, sizeof c) == NULL);
    CHECK(ip_number_error("plant_variety", "CNA20191234.5", c, sizeof c) == NULL);
    CHECK(ip_number_error("plant_variety", "x", c, sizeof c) != NULL);
    CHECK(ip_number_error("ic_layout", "BS.205012345", c, sizeof c) == NULL);
    CHECK(ip_number_error("ic_layout", "BS 2050#", c, sizeof c) != NULL);
}
