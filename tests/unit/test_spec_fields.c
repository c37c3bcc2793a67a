/* The body field tables made from api/openapi.yaml (server/api/spec_fields.py):
 * how the generator reads a schema's shapes into field_t rows. */
#include "unit.h"

#include "api/api.h"

#include <string.h>

static const field_t *row(const field_t *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

#define ROW(table, name) row(table, ARRAY_LEN(table), name)

TEST(spec_fields_types)
{
    static const field_t org[] = SPEC_FIELDS(OrgInput), contract[] = SPEC_FIELDS(ContractPatch),
                         setting[] = SPEC_FIELDS(SettingInput), run[] = SPEC_FIELDS(SubsidyRunCreate),
                         broker[] = SPEC_FIELDS(BrokerQualificationCreate);
    /* type: string, required */
    CHECK(ROW(org, "name") && ROW(org, "name")->type == F_STRING && ROW(org, "name")->required);
    /* type: ['string', 'null'] */
    CHECK(ROW(org, "name_en") && ROW(org, "name_en")->type == F_STRING_OR_NULL && !ROW(org, "name_en")->required);
    /* oneOf [$ref CreditCode (a string), type: 'null'] */
    CHECK(ROW(org, "credit_code") && ROW(org, "credit_code")->type == F_STRING_OR_NULL);
    /* allOf [$ref RegionCode] with a description of its own */
    CHECK(ROW(org, "region_code") && ROW(org, "region_code")->type == F_STRING);
    CHECK(ROW(org, "state_funded") && ROW(org, "state_funded")->type == F_BOOL);
    /* allOf [$ref AmountFen]: an integer */
    CHECK(ROW(contract, "contract_amount_fen") && ROW(contract, "contract_amount_fen")->type == F_INT);
    CHECK(ROW(contract, "broker_user_id") && ROW(contract, "broker_user_id")->type == F_NUMBER_OR_NULL);
    CHECK(ROW(contract, "seller") && ROW(contract, "seller")->type == F_OBJECT);
    CHECK(ROW(contract, "payment_schedule") && ROW(contract, "payment_schedule")->type == F_ARRAY);
    /* shapes without a field_t type are F_ANY, which the handler checks: an
     * object or null, an array or null, no type at all */
    CHECK(ROW(contract, "intermediary") && ROW(contract, "intermediary")->type == F_ANY);
    CHECK(ROW(run, "policy_ids") && ROW(run, "policy_ids")->type == F_ANY);
    CHECK(ROW(setting, "value") && ROW(setting, "value")->type == F_ANY && ROW(setting, "value")->required);
    CHECK(ROW(broker, "hours") && ROW(broker, "hours")->type == F_REAL_OR_NULL);
    CHECK(!ROW(org, "id")); /* only the schema's own properties */
}

/* ResultInput is allOf [ResultFields] with required: [title]; ResultPatch the
 * same fields, none required; both in the spec's order. */
TEST(spec_fields_all_of)
{
    static const field_t in[] = SPEC_FIELDS(ResultInput), patch[] = SPEC_FIELDS(ResultPatch);
    CHECK(ARRAY_LEN(in) == ARRAY_LEN(patch));
    CHECK(!strcmp(in[0].name, "title") && in[0].required && in[0].type == F_STRING);
    CHECK(!strcmp(patch[0].name, "title") && !patch[0].required);
    size_t required = 0;
    for (size_t i = 0; i < ARRAY_LEN(in); i++) {
        required += in[i].required + patch[i].required;
        CHECK(!strcmp(in[i].name, patch[i].name) && in[i].type == patch[i].type);
    }
    CHECK(required == 1);
}

/* api_fields_check with a made table: unknown and mistyped fields are 400,
 * a missing required one 422. */
TEST(spec_fields_check)
{
    static const field_t f[] = SPEC_FIELDS(ContractAmendment);
    json_t *errs = NULL, *o = json_pack("{s:s, s:{}}", "reason", "改", "changes");
    CHECK(api_fields_check(o, "", f, ARRAY_LEN(f), &errs) == 0 && !errs);
    json_object_set_new(o, "extra", json_true());
    CHECK(api_fields_check(o, "", f, ARRAY_LEN(f), &errs) == 400 && json_array_size(errs) == 1);
    json_decref(errs), errs = NULL;
    json_object_del(o, "extra");
    json_object_del(o, "changes");
    CHECK(api_fields_check(o, "", f, ARRAY_LEN(f), &errs) == 422 && json_array_size(errs) == 1);
    json_decref(errs), errs = NULL;
    json_object_set_new(o, "changes", json_string("x"));
    CHECK(api_fields_check(o, "", f, ARRAY_LEN(f), &errs) == 400);
    json_decref(errs);
    json_decref(o);
}
