#!/usr/bin/env python3
"""Writes N synthetic customer contacts for timing and scoring `custos resolve`'s
matcher (bench/identity): CSV with a mapping beside it, and the ground truth.

usage: identity_people.py N DIR
Writes DIR/people.csv, DIR/people.mapping.json, DIR/people_truth.csv
(source,record_key,person_id). Every person has a contact (own phone, e-mail, member
card); one in five has a second contact from another system that shares no
identifier with the first (another phone, no card, no e-mail; name perhaps one
character off, birth date in another format, 市 after the city, gender as 男/女);
one in forty has a namesake (same name and city, another birth date and phone), who
is someone else. Deterministic: random.Random(N)."""
import json, os, random, sys

n = int(sys.argv[1])
out = sys.argv[2]
r = random.Random(n)
SUR = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIV = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉晨欣怡婷雪琳浩宇轩子涵梓萱思博文雨欣佳琪一诺嘉怡俊杰晓东海燕志强建国春梅秋菊冬梅夏雨天佑家豪诗琪梦瑶婉清若曦"
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京", "重庆", "天津",
          "苏州", "西安", "长沙", "郑州", "青岛", "沈阳", "宁波", "昆明"]
rows, truth = [], []

def person():
    given = r.choice(GIV) + (r.choice(GIV) if r.random() < 0.75 else "")
    return dict(name=r.choice(SUR) + given, city=r.choice(CITIES), g=r.choice("MF"),
                bd=(r.randint(1955, 2006), r.randint(1, 12), r.randint(1, 28)))

def add(key, pid, name, email, phone, city, bd, g, card):
    rows.append((key, name, email, phone, city, bd, g, card))
    truth.append(("crm", key, pid))

people = [person() for _ in range(n)]
for i, p in enumerate(people):
    y, m, d = p["bd"]
    add("C%d" % i, "P%d" % i, p["name"], "c%d@example.cn" % i, "13%09d" % (i * 7919 % 10**9),
        p["city"], "%04d-%02d-%02d" % (y, m, d), p["g"], "M%08d" % i)
for i in range(0, n, 5):
    p = people[i]
    y, m, d = p["bd"]
    name = p["name"]
    if r.random() < 0.25 and len(name) >= 3:
        name = name[:-1] + r.choice([c for c in GIV if c != name[-1]])
    bd = r.choice(["%04d/%d/%d" % (y, m, d), "%04d%02d%02d" % (y, m, d), "%04d-%02d-%02d" % (y, m, d)])
    city = p["city"] + ("市" if r.random() < 0.4 else "")
    add("S%d" % i, "P%d" % i, name, "", "15%09d" % (i * 104729 % 10**9), city, bd,
        {"M": "男", "F": "女"}[p["g"]], "")
for i in range(3, n, 40):
    p = people[i]
    y, m, d = p["bd"]
    add("N%d" % i, "Q%d" % i, p["name"], "", "17%09d" % (i * 15485863 % 10**9), p["city"],
        "%04d-%02d-%02d" % (y - 1 - r.randint(0, 20), r.randint(1, 12), r.randint(1, 28)), p["g"], "")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "people.csv"), "w", encoding="utf-8") as f:
    f.write("contact_id,name,email,mobile,city,birthday,gender,member_card\n")
    for x in rows:
        f.write(",".join(x) + "\n")
with open(os.path.join(out, "people_truth.csv"), "w", encoding="utf-8") as f:
    f.write("source,record_key,person_id\n")
    for t in truth:
        f.write("%s,%s,%s\n" % t)
with open(os.path.join(out, "people.mapping.json"), "w") as f:
    json.dump({"kind": "contact", "record_key": "contact_id", "columns": {
        "contact_id": {"identifier": "crm_id", "required": True},
        "name": {"trait": "name"}, "email": {"identifier": "email"},
        "mobile": {"identifier": "phone"}, "city": {"trait": "city"},
        "birthday": {"trait": "birthday"}, "gender": {"trait": "gender"},
        "member_card": {"identifier": "member_card"}}}, f, indent=1)
print(len(rows))
