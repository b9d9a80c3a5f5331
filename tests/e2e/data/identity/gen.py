#!/usr/bin/env python3
"""Writes the e2e world of t0530 to stdout (CSV) and its truth to argv[1]: contact_id,person.

People with a CRM contact each; some have a second contact from another shop system
with another phone, no card and no e-mail (their name perhaps one character off,
their birthday in another format, "市" after the city): only the matcher can link
those. Namesakes (same name and city, another birth date and phone) must stay apart.
Deterministic: random.Random(7)."""
import datetime, random, sys
r = random.Random(7)
SUR = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIV = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉晨欣怡婷雪琳"
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
rows, truth = [], []
people = []
used = set()
for i in range(400):
    while True:
        name = r.choice(SUR) + r.choice(GIV) + r.choice(GIV)
        if name not in used:
            break
    used.add(name)
    p = dict(name=name, city=r.choice(CITIES), g=r.choice("MF"),
             bd=(r.randint(1960, 2004), r.randint(1, 12), r.randint(1, 28)),
             phone="13%09d" % r.randint(0, 999999999), card="M%05d" % i)
    people.append(p)
def row(cid, person, name, email, phone, city, bd, g, idn, card):
    rows.append([cid, name, email, phone, city, bd, g, idn, card])
    truth.append([cid, person])
for i, p in enumerate(people):
    y, m, d = p["bd"]
    row("C%d" % i, i, p["name"], "u%d@example.cn" % i, p["phone"], p["city"],
        "%04d-%02d-%02d" % (y, m, d), p["g"], "", p["card"])
for k, i in enumerate(range(0, 400, 5)):  # 80 second contacts
    p = people[i]
    y, m, d = p["bd"]
    name = p["name"]
    if k % 4 == 1:  # one character off
        name = name[:2] + r.choice([c for c in GIV if c != name[2]])
    bd = ["%04d/%d/%d" % (y, m, d), "%04d%02d%02d" % (y, m, d)][k % 2]
    city = p["city"] + ("市" if k % 3 == 0 else "")
    g = {"M": "男", "F": "女"}[p["g"]]
    row("S%d" % i, i, name, "", "15%09d" % r.randint(0, 999999999), city, bd, g, "", "")
for k, i in enumerate(range(1, 400, 40)):  # 10 weaker second contacts (name one character
    # off, birth date months apart): for review
    p = people[i]
    row("R%d" % i, i, p["name"][:2] + r.choice([c for c in GIV if c != p["name"][2]]), "",
        "18%09d" % r.randint(0, 999999999), p["city"],
        (datetime.date(*p["bd"]) + datetime.timedelta(days=137)).isoformat(), p["g"], "", "")
for k, i in enumerate(range(2, 400, 40)):  # 10 namesakes
    p = people[i]
    y, m, d = p["bd"]
    row("N%d" % i, 1000 + i, p["name"], "", "17%09d" % r.randint(0, 999999999), p["city"],
        "%04d-%02d-%02d" % (y - 7, (m % 12) + 1, d), p["g"], "", "")
def id_number(first17):
    wts = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * k for c, k in zip(first17, wts)) % 11]
# The traps: junk values shared by strangers; a family phone shared by two people with
# their own ID numbers; full-width digits in a phone.
row("J1", 2001, "李娜", "null", "13800000000", "北京", "1990-01-01", "F", "", "0")
row("J2", 2002, "张伟", "test@test.com", "13800000000", "广州", "1985-05-05", "M", "", "null")
row("F1", 2003, "赵敏", "", "13590871234", "杭州", "1970-03-03", "F", id_number("33010619700303002"), "")
row("F2", 2004, "赵强", "", "13590871234", "杭州", "1968-08-08", "M", id_number("33010619680808003"), "")
# A shop's own phone typed for five different customers (no other identifier): not in
# the configured junk list, so only detection keeps them apart.
for k, nm in enumerate(["孙立", "郭静怡", "林涛", "罗敏", "高翔"]):
    row("D%d" % k, 3000 + k, nm, "", "021-6288 1234", "上海", "", "", "", "")
fw = "".join(chr(ord(c) + 0xFEE0) for c in people[3]["phone"])
y, m, d = people[3]["bd"]
row("W3", 3, people[3]["name"], "", fw, people[3]["city"], "", "", "", "")
w = sys.stdout
w.write("contact_id,name,email,mobile,city,birthday,gender,id_number,member_card\n")
for x in rows:
    w.write(",".join(x) + "\n")
with open(sys.argv[1], "w") as f:
    f.write("contact_id,person\n")
    for t in truth:
        f.write("%s,%s\n" % tuple(t))
