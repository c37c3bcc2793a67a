#!/usr/bin/env python3
"""bench/import/gen.py N OFFICE_REGION OUT.csv — N past contracts as an import file (the template's
columns, UTF-8 with BOM as Excel saves "CSV UTF-8"), registered 2016-2025 by the office of OFFICE_REGION:
numbers YYYY + region + serial, every contract type, domain and org type, sellers in the office's
region, buyers all over the country, valid credit codes, amounts with fen.  Deterministic (seed 19)."""
import csv
import random
import sys

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
HEAD = ["登记编号", "合同名称", "合同类别", "合同子类", "卖方名称", "卖方统一社会信用代码", "卖方所在地区代码", "卖方单位类型",
        "买方名称", "买方统一社会信用代码", "买方所在地区代码", "买方单位类型", "签订日期", "登记日期", "合同成交额（元）",
        "技术交易额（元）", "技术领域", "生效日期", "终止日期", "知识产权类型", "计划来源", "社会经济目标", "中介方名称",
        "中介方统一社会信用代码", "中介方所在地区代码", "技术进口"]
TYPES = [("技术开发", "委托开发"), ("技术开发", "合作开发"), ("技术转让", "专利权转让"), ("技术转让", "技术秘密转让"),
         ("技术许可", "专利实施许可"), ("技术咨询", ""), ("技术服务", "技术服务"), ("技术服务", "技术培训"), ("委托开发", "")]
DOMAINS = ["电子信息", "航空航天", "先进制造", "生物医药和医疗器械", "新材料及其应用", "新能源与高效节能",
           "环境保护与资源综合利用", "核应用", "农业", "现代交通", "城市建设与社会发展"]
SELLER_TYPES = ["高等院校", "科研机构", "150", "170", "有限责任公司"]
BUYERS = ["110105", "310115", "440305", "500112", "510107", "511902", "511921", "420111", "330106", "610113"]
IP = ["专利", "技术秘密", "计算机软件著作权", "未涉及知识产权", ""]
PLAN = ["国家计划", "省级计划", "计划外", "计划外", ""]


def code(prefix, region, rng):
    s = prefix + region + "".join(rng.choice(ALPHABET) for _ in range(9))
    total = sum(ALPHABET.index(c) * w for c, w in zip(s, WEIGHTS))
    return s + ALPHABET[(31 - total % 31) % 31]


def main():
    n, region, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    rng = random.Random(19)
    sellers = [(f"巴中{i}号技术转移单位", code("12" if i % 3 == 0 else "91", region, rng)) for i in range(500)]
    serial = {}
    with open(out, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEAD)
        for i in range(n):
            year = 2016 + i % 10
            serial[year] = serial.get(year, 0) + 1
            month, day = 1 + rng.randrange(12), 1 + rng.randrange(28)
            t, sub = TYPES[i % len(TYPES)]
            seller, credit = sellers[rng.randrange(len(sellers))]
            breg = BUYERS[rng.randrange(len(BUYERS))]
            amount = rng.randrange(1_000_00, 5_000_000_00)
            tech = amount - rng.randrange(0, amount // 5 + 1)
            w.writerow([f"{year}{region}{serial[year]:06d}", f"历史技术合同{i:06d}", t, sub, seller, credit, region,
                        SELLER_TYPES[i % len(SELLER_TYPES)], f"受让企业{i % 5000:04d}", code("91", breg, rng), breg, "",
                        f"{year}-{month:02d}-{day:02d}", f"{year}/{month}/{min(day + 1, 28)}",
                        f"{amount // 100}.{amount % 100:02d}", f"{tech // 100}.{tech % 100:02d}",
                        DOMAINS[i % len(DOMAINS)], "", "", IP[i % len(IP)], PLAN[i % len(PLAN)], "", "", "", "",
                        "否"])


if __name__ == "__main__":
    main()
