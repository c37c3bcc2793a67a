/* pdf.c — see pdf.h.  A4 pages drawn top to bottom: a title, bordered
 * two-column tables (label | value, the value wrapped to its width), and at
 * the foot the office, the date and the seal's slot.  Amounts are written in
 * figures and in 大写 (domain/money_cn.c, the one home of that rule). */
#include "api/pdf.h"

#include "domain/money_cn.h"
#include "log.h"
#include "util/util.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W 595.28 /* A4 in points */
#define PAGE_H 841.89
#define MARGIN 56.0
#define LABEL_W 118.0
#define PAD 6.0
#define SERIF "Noto Serif CJK SC"
#define SANS "Noto Sans CJK SC"

typedef struct {
    cairo_surface_t *surface;
    cairo_t *cr;
    double y; /* the next free line */
    int pages;
} doc_t;

static cairo_status_t on_write(void *closure, const unsigned char *data, unsigned int len)
{
    buf_append(closure, data, len);
    return CAIRO_STATUS_SUCCESS;
}

static int doc_open(doc_t *d, buf_t *out, const char *title)
{
    memset(d, 0, sizeof *d);
    d->surface = cairo_pdf_surface_create_for_stream(on_write, out, PAGE_W, PAGE_H);
    if (cairo_surface_status(d->surface) != CAIRO_STATUS_SUCCESS) return -1;
    cairo_pdf_surface_set_metadata(d->surface, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(d->surface, CAIRO_PDF_METADATA_CREATOR, "驿站 Yizhan");
    d->cr = cairo_create(d->surface);
    d->y = MARGIN;
    d->pages = 1;
    return cairo_status(d->cr) == CAIRO_STATUS_SUCCESS ? 0 : -1;
}

static int doc_close(doc_t *d)
{
    int rc = 0;
    if (d->cr) {
        cairo_show_page(d->cr);
        if (cairo_status(d->cr) != CAIRO_STATUS_SUCCESS) rc = -1;
        cairo_destroy(d->cr);
    }
    if (d->surface) {
        cairo_surface_finish(d->surface);
        if (cairo_surface_status(d->surface) != CAIRO_STATUS_SUCCESS) rc = -1;
        cairo_surface_destroy(d->surface);
    }
    return rc;
}

/* Text in a box of width w at (x, y); returns its height.  draw false:
 * measure only. */
static double text(doc_t *d, double x, double y, double w, const char *s, const char *font, PangoAlignment align,
                   bool draw)
{
    PangoLayout *l = pango_cairo_create_layout(d->cr);
    PangoFontDescription *fd = pango_font_description_from_string(font);
    pango_layout_set_font_description(l, fd);
    pango_layout_set_width(l, (int)(w * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(l, align);
    pango_layout_set_text(l, s ? s : "", -1);
    int pw, ph;
    pango_layout_get_size(l, &pw, &ph);
    if (draw) {
        cairo_move_to(d->cr, x, y);
        pango_cairo_show_layout(d->cr, l);
    }
    pango_font_description_free(fd);
    g_object_unref(l);
    return (double)ph / PANGO_SCALE;
}

static void new_page_if(doc_t *d, double need)
{
    if (d->y + need <= PAGE_H - MARGIN) return;
    cairo_show_page(d->cr);
    d->y = MARGIN;
    d->pages++;
}

/* One table row: the label on a tinted cell, the value wrapped beside it. */
static void row(doc_t *d, const char *label, const char *value)
{
    const double w = PAGE_W - 2 * MARGIN, vw = w - LABEL_W - 2 * PAD;
    const char *font = SERIF " 10.5";
    double h = text(d, 0, 0, vw, value, font, PANGO_ALIGN_LEFT, false);
    double lh = text(d, 0, 0, LABEL_W - 2 * PAD, label, SERIF " Bold 10.5", PANGO_ALIGN_LEFT, false);
    if (lh > h) h = lh;
    h += 2 * PAD;
    new_page_if(d, h);
    cairo_t *cr = d->cr;
    cairo_set_source_rgb(cr, 0.97, 0.945, 0.91);
    cairo_rectangle(cr, MARGIN, d->y, LABEL_W, h);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
    cairo_set_line_width(cr, 0.6);
    cairo_rectangle(cr, MARGIN, d->y, w, h);
    cairo_move_to(cr, MARGIN + LABEL_W, d->y);
    cairo_line_to(cr, MARGIN + LABEL_W, d->y + h);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.12, 0.12, 0.12);
    text(d, MARGIN + PAD, d->y + PAD, LABEL_W - 2 * PAD, label, SERIF " Bold 10.5", PANGO_ALIGN_LEFT, true);
    text(d, MARGIN + LABEL_W + PAD, d->y + PAD, vw, value, font, PANGO_ALIGN_LEFT, true);
    d->y += h;
}

static void heading(doc_t *d, const char *s)
{
    new_page_if(d, 40);
    d->y += 10;
    cairo_set_source_rgb(d->cr, 0.1, 0.2, 0.4);
    d->y += text(d, MARGIN, d->y, PAGE_W - 2 * MARGIN, s, SANS " Bold 12", PANGO_ALIGN_LEFT, true) + 4;
}

static void paragraph(doc_t *d, const char *s, const char *font, double r, double g, double b)
{
    double h = text(d, 0, 0, PAGE_W - 2 * MARGIN, s, font, PANGO_ALIGN_LEFT, false);
    new_page_if(d, h + 6);
    cairo_set_source_rgb(d->cr, r, g, b);
    d->y += text(d, MARGIN, d->y, PAGE_W - 2 * MARGIN, s, font, PANGO_ALIGN_LEFT, true) + 6;
}

/* --- values ------------------------------------------------------------------------------ */

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* "2025年3月20日" from "2025-03-20" (or the start of a timestamp). */
static void cn_date(const char *iso, char *out, size_t cap)
{
    int y, m, d;
    if (iso && sscanf(iso, "%4d-%2d-%2d", &y, &m, &d) == 3) snprintf(out, cap, "%d年%d月%d日", y, m, d);
    else
        snprintf(out, cap, "—");
}

/* "123,456.78 元" and on a second line "大写：人民币壹拾贰万…". */
static void money(json_t *o, const char *k, char *out, size_t cap)
{
    long long fen = (long long)json_integer_value(json_object_get(o, k));
    char fig[48], up[MONEY_CN_BUF];
    if (money_cn_figures(fen, fig, sizeof fig) != 0 || money_cn_upper(fen, up, sizeof up) != 0) {
        snprintf(out, cap, "—");
        return;
    }
    snprintf(out, cap, "%s 元\n大写：人民币%s", fig, up);
}

/* A party's cell: name, then its credit code (and what else is known). */
static void party(json_t *p, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", str(p, "name"));
    if (*str(p, "credit_code") && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "\n统一社会信用代码：%s", str(p, "credit_code"));
    if (*str(p, "org_type_label") && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "\n单位性质：%s（%s）", str(p, "org_type_label"), str(p, "org_type"));
    if (*str(p, "region_name") && n < cap)
        snprintf(out + n, cap - n, "\n所在地区：%s（%s）", str(p, "region_name"), str(p, "region_code"));
}

/* The party's role for this kind of contract (data, per contract type, when
 * the payload carries it), else the plain 卖方 / 买方. */
static void party_label(json_t *p, const char *plain, char *out, size_t cap)
{
    const char *role = str(p, "role");
    if (*role) snprintf(out, cap, "%s（%s）", plain, role);
    else
        snprintf(out, cap, "%s", plain);
}

/* --- QR code and seal ---------------------------------------------------------------------- */

static void qr(doc_t *d, const char *url, double x, double y, double size)
{
    QRcode *q = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) return;
    double cell = size / (q->width + 4);
    cairo_set_source_rgb(d->cr, 1, 1, 1);
    cairo_rectangle(d->cr, x, y, size, size);
    cairo_fill(d->cr);
    cairo_set_source_rgb(d->cr, 0, 0, 0);
    for (int r = 0; r < q->width; r++)
        for (int c = 0; c < q->width; c++)
            if (q->data[r * q->width + c] & 1)
                cairo_rectangle(d->cr, x + (c + 2) * cell, y + (r + 2) * cell, cell, cell);
    cairo_fill(d->cr);
    QRcode_free(q);
}

typedef struct {
    const unsigned char *p;
    size_t left;
} png_in_t;

static cairo_status_t on_read(void *closure, unsigned char *data, unsigned int len)
{
    png_in_t *in = closure;
    if (len > in->left) return CAIRO_STATUS_READ_ERROR;
    memcpy(data, in->p, len);
    in->p += len;
    in->left -= len;
    return CAIRO_STATUS_SUCCESS;
}

/* The foot of a document: who issues it (the office, the date) on the right
 * with the seal over it — the uploaded image, or a dashed slot for one. */
static void seal_block(doc_t *d, const char *caption, const char *office, const char *date, const unsigned char *seal,
                       size_t seal_len)
{
    const double R = 58, cx = PAGE_W - MARGIN - 110, block_h = 2 * R + 20;
    new_page_if(d, block_h);
    double cy = d->y + R + 6;
    cairo_t *cr = d->cr;
    cairo_set_source_rgb(cr, 0.12, 0.12, 0.12);
    text(d, cx - 110, cy - 22, 220, caption, SERIF " 10.5", PANGO_ALIGN_CENTER, true);
    text(d, cx - 110, cy - 2, 220, office, SERIF " Bold 11", PANGO_ALIGN_CENTER, true);
    text(d, cx - 110, cy + 18, 220, date, SERIF " 10.5", PANGO_ALIGN_CENTER, true);
    bool drawn = false;
    if (seal && seal_len) {
        png_in_t in = {seal, seal_len};
        cairo_surface_t *img = cairo_image_surface_create_from_png_stream(on_read, &in);
        if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
            int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
            double scale = 2 * R / (w > h ? w : h);
            cairo_save(cr);
            cairo_translate(cr, cx - w * scale / 2, cy - h * scale / 2);
            cairo_scale(cr, scale, scale);
            cairo_set_source_surface(cr, img, 0, 0);
            cairo_paint_with_alpha(cr, 0.9);
            cairo_restore(cr);
            drawn = true;
        } else {
            LOG_W("pdf: the office's seal image cannot be read (%s); the slot stays empty",
                  cairo_status_to_string(cairo_surface_status(img)));
        }
        cairo_surface_destroy(img);
    }
    if (!drawn) {
        static const double dash[] = {4, 3};
        cairo_set_source_rgb(cr, 0.75, 0.2, 0.2);
        cairo_set_line_width(cr, 1);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_arc(cr, cx, cy, R, 0, 2 * G_PI);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        text(d, cx - R, cy + R - 20, 2 * R, "（登记机构印章）", SERIF " 8", PANGO_ALIGN_CENTER, true);
    }
    d->y += block_h;
}

/* --- the certificate ---------------------------------------------------------------------- */

int pdf_certificate(const pdf_certificate_t *c, buf_t *out)
{
    doc_t d;
    json_t *p = c->payload;
    int rc = doc_open(&d, out, "技术合同登记证明");
    if (rc) {
        doc_close(&d);
        return -1;
    }
    const double qr_size = 92;
    qr(&d, c->verify_url, PAGE_W - MARGIN - qr_size, MARGIN - 10, qr_size);
    cairo_set_source_rgb(d.cr, 0.3, 0.3, 0.3);
    text(&d, PAGE_W - MARGIN - qr_size, MARGIN - 10 + qr_size, qr_size, "扫码核验", SANS " 8", PANGO_ALIGN_CENTER,
         true);
    cairo_set_source_rgb(d.cr, 0.55, 0.0, 0.0);
    d.y += 18;
    d.y += text(&d, MARGIN, d.y, PAGE_W - 2 * MARGIN, "技术合同登记证明", SERIF " Bold 24", PANGO_ALIGN_CENTER, true);
    bool imported = !strcmp(str(p, "source"), "import");
    if (imported) {
        cairo_set_source_rgb(d.cr, 0.6, 0.35, 0.0);
        d.y += text(&d, MARGIN, d.y, PAGE_W - 2 * MARGIN, "（历史导入）", SERIF " Bold 14", PANGO_ALIGN_CENTER, true);
    }
    d.y += 46;
    char v[1024], l[128];
    row(&d, "登记编号", str(p, "registration_no"));
    row(&d, "合同名称", str(p, "title"));
    snprintf(v, sizeof v, "%s · %s", str(p, "contract_type_label"), str(p, "contract_subtype_label"));
    row(&d, "合同类别", v);
    json_t *seller = json_object_get(p, "seller"), *buyer = json_object_get(p, "buyer");
    party_label(seller, "卖方", l, sizeof l);
    party(seller, v, sizeof v);
    row(&d, l, v);
    party_label(buyer, "买方", l, sizeof l);
    party(buyer, v, sizeof v);
    row(&d, l, v);
    money(p, "contract_amount_fen", v, sizeof v);
    row(&d, "合同成交额", v);
    money(p, "technical_amount_fen", v, sizeof v);
    row(&d, "技术交易额", v);
    json_t *term = json_object_get(p, "term");
    if (json_is_object(term)) {
        char a[32], b[32];
        cn_date(json_string_value(json_object_get(term, "effective_on")), a, sizeof a);
        cn_date(json_string_value(json_object_get(term, "end_on")), b, sizeof b);
        snprintf(v, sizeof v, "%s 至 %s", a, b);
        row(&d, "合同期限", v);
    }
    if (*str(p, "domain_label")) row(&d, "技术领域", str(p, "domain_label"));
    if (*str(p, "registration_note")) row(&d, "核定说明", str(p, "registration_note"));
    json_t *office = json_object_get(p, "office");
    row(&d, "登记机构", str(office, "name"));
    char date[32];
    cn_date(str(p, "registered_on"), date, sizeof date);
    row(&d, "登记日期", date);
    d.y += 12;
    if (imported) {
        paragraph(
            &d,
            "本合同为历史导入数据：登记编号与登记日期取自原登记系统，本证明不是本系统签发的电子证明，没有数字签名。",
            SERIF " 10.5", 0.5, 0.3, 0.0);
    } else {
        paragraph(&d, "上述技术合同已在本登记机构认定登记。", SERIF " 10.5", 0.12, 0.12, 0.12);
        snprintf(v, sizeof v, "本证明由登记机构以 Ed25519 数字签名（密钥 %s），签名：%s", c->key_id ? c->key_id : "",
                 c->signature ? c->signature : "");
        paragraph(&d, v, SANS " 7.5", 0.35, 0.35, 0.35);
    }
    snprintf(v, sizeof v, "核验地址：%s", c->verify_url);
    paragraph(&d, v, SANS " 8", 0.35, 0.35, 0.35);
    d.y += 10;
    seal_block(&d, "登记机构（盖章）", str(office, "name"), date, c->seal, c->seal_len);
    return doc_close(&d);
}

/* --- the registration form ---------------------------------------------------------------- */

/* A list of amounts, one a line: "设备：12,000.00 元", or for a payment
 * schedule "2025年3月1日（首期）：12,000.00 元". */
static void items(json_t *a, const char *what_key, bool dates, char *out, size_t cap)
{
    size_t n = 0, i;
    json_t *it;
    out[0] = '\0';
    json_array_foreach(a, i, it) {
        char fig[48], when[32];
        if (n >= cap ||
            money_cn_figures((long long)json_integer_value(json_object_get(it, "amount_fen")), fig, sizeof fig) != 0)
            continue;
        const char *what = str(it, what_key), *note = str(it, "note");
        if (dates) cn_date(what, when, sizeof when), what = when;
        if (*note) n += (size_t)snprintf(out + n, cap - n, "%s%s（%s）：%s 元", n ? "\n" : "", what, note, fig);
        else
            n += (size_t)snprintf(out + n, cap - n, "%s%s：%s 元", n ? "\n" : "", what, fig);
    }
    if (!out[0]) snprintf(out, cap, "无");
}

int pdf_registration_form(json_t *k, const unsigned char *seal, size_t seal_len, buf_t *out)
{
    doc_t d;
    if (doc_open(&d, out, "技术合同登记表") != 0) {
        doc_close(&d);
        return -1;
    }
    cairo_set_source_rgb(d.cr, 0.1, 0.1, 0.1);
    d.y += text(&d, MARGIN, d.y, PAGE_W - 2 * MARGIN, "技术合同登记表", SERIF " Bold 22", PANGO_ALIGN_CENTER, true) + 4;
    char v[2048], a[32], b[32];
    snprintf(v, sizeof v, "合同登记编号：%s",
             *str(k, "registration_no") ? str(k, "registration_no") : "（登记时填写）");
    cairo_set_source_rgb(d.cr, 0.3, 0.3, 0.3);
    d.y += text(&d, MARGIN, d.y, PAGE_W - 2 * MARGIN, v, SERIF " 10.5", PANGO_ALIGN_CENTER, true) + 8;

    heading(&d, "一、合同基本情况");
    row(&d, "项目名称", str(k, "title"));
    snprintf(v, sizeof v, "%s · %s", str(k, "contract_type_label"), str(k, "contract_subtype_label"));
    row(&d, "合同类别", v);
    cn_date(str(k, "signed_on"), a, sizeof a);
    row(&d, "签订日期", a);
    cn_date(str(k, "effective_on"), a, sizeof a);
    cn_date(str(k, "end_on"), b, sizeof b);
    snprintf(v, sizeof v, "%s 至 %s", a, b);
    row(&d, "合同有效期", v);
    row(&d, "技术领域", *str(k, "domain_label") ? str(k, "domain_label") : "—");
    row(&d, "社会经济目标", *str(k, "socio_economic_objective_label") ? str(k, "socio_economic_objective_label") : "—");
    row(&d, "知识产权类型", *str(k, "ip_type_label") ? str(k, "ip_type_label") : "—");
    row(&d, "项目计划来源", *str(k, "plan_source_label") ? str(k, "plan_source_label") : "—");
    row(&d, "技术进口", json_is_true(json_object_get(k, "is_import")) ? "是" : "否");

    heading(&d, "二、合同当事人");
    char l[128];
    party_label(json_object_get(k, "seller"), "卖方", l, sizeof l);
    party(json_object_get(k, "seller"), v, sizeof v);
    row(&d, l, v);
    party_label(json_object_get(k, "buyer"), "买方", l, sizeof l);
    party(json_object_get(k, "buyer"), v, sizeof v);
    row(&d, l, v);
    json_t *mid = json_object_get(k, "intermediary");
    if (json_is_object(mid)) {
        party(mid, v, sizeof v);
        row(&d, "中介方", v);
    }

    heading(&d, "三、合同金额");
    money(k, "contract_amount_fen", v, sizeof v);
    row(&d, "合同成交额", v);
    money(k, "technical_amount_fen", v, sizeof v);
    row(&d, "技术交易额", v);
    items(json_object_get(k, "non_technical_items"), "item", false, v, sizeof v);
    row(&d, "非技术性费用", v);
    items(json_object_get(k, "payment_schedule"), "due_on", true, v, sizeof v);
    row(&d, "支付安排", v);

    heading(&d, "四、登记情况");
    row(&d, "登记机构", *str(k, "office_name") ? str(k, "office_name") : "—");
    cn_date(str(k, "submitted_at"), a, sizeof a);
    row(&d, "申请日期", a);
    row(&d, "状态", str(k, "status_label"));
    const char *status = str(k, "status");
    if (!strcmp(status, "registered") || !strcmp(status, "cancelled")) {
        cn_date(str(k, "registered_at"), a, sizeof a);
        row(&d, "登记日期", a);
    }
    if (*str(k, "return_reason")) row(&d, "补正事项", str(k, "return_reason"));
    if (*str(k, "refusal_ground_label")) {
        snprintf(v, sizeof v, "%s%s%s", str(k, "refusal_ground_label"), *str(k, "refusal_detail") ? "：" : "",
                 str(k, "refusal_detail"));
        row(&d, "不予登记理由", v);
    }
    if (*str(k, "cancel_reason")) row(&d, "注销原因", str(k, "cancel_reason"));
    d.y += 16;
    bool registered = !strcmp(status, "registered");
    cn_date(registered ? str(k, "registered_at") : NULL, a, sizeof a);
    seal_block(&d, "登记机构（盖章）", *str(k, "office_name") ? str(k, "office_name") : "", registered ? a : "",
               registered ? seal : NULL, registered ? seal_len : 0);
    return doc_close(&d);
}
