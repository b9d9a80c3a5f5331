#!/usr/bin/env python3
"""Writes a POS export of N order lines (UTF-8 CSV, Chinese headers, one row per line
item, about 4 lines per receipt) for bench/import. Deterministic: seeded."""
import random, sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
out = open(sys.argv[2], "w", encoding="utf-8", newline="") if len(sys.argv) > 2 else sys.stdout
rnd = random.Random(42)
stores = ["上海南京西路店", "北京三里屯店", "广州天河店", "深圳万象城店", "杭州湖滨店", "成都太古里店"]
cats = ["母婴", "美妆", "食品", "服饰", "家居", "数码"]
w = out.write
w("小票号,行号,门店,交易时间,会员卡号,手机号,商品编码,品类,数量,单价,金额\n")
receipt, line = 0, 0
for i in range(n):
    if line == 0 or rnd.random() < 0.25:
        receipt += 1
        line = 0
        store = rnd.choice(stores)
        t = "2025/%02d/%02d %02d:%02d:%02d" % (rnd.randint(1, 12), rnd.randint(1, 28),
                                                rnd.randint(9, 21), rnd.randint(0, 59), rnd.randint(0, 59))
        card = "M%07d" % rnd.randint(1, 200000) if rnd.random() < 0.8 else ""
        phone = "138%08d" % rnd.randint(0, 99999999) if rnd.random() < 0.3 else ""
    line += 1
    qty = rnd.randint(1, 5)
    price = rnd.randint(100, 99900)
    w("R%08d,%d,%s,%s,%s,%s,SKU-%05d,%s,%d,%d.%02d,%d.%02d\n" % (
        receipt, line, store, t, card, phone, rnd.randint(1, 20000), rnd.choice(cats), qty,
        price // 100, price % 100, qty * price // 100, qty * price % 100))
