"""The seeded defaults of the event-handling rules (loaded by a data migration; administrators
change them afterwards): the category trees with their default handling function, keywords and
questions, and the deadline policies of the seed (半天响应, 137, the WeChat 1 + 5 working days).

Category names are Chinese data (as a city's administrators keep them), not interface text."""

from __future__ import annotations

#: (code, name, default function, keywords) per tree; a 2-digit code opens a top-level category.
EVENTS = [
    ("01", "市容环境", "urban_management", ""),
    ("0101", "私搭乱建", "urban_management", "搭建,棚,违建"),
    ("0102", "暴露垃圾", "sanitation", "垃圾,堆放"),
    ("0103", "积存垃圾渣土", "sanitation", "渣土,建筑垃圾"),
    ("0104", "道路不洁", "sanitation", "路面脏,油污,不洁"),
    ("0105", "水域不洁", "environment", "河面,漂浮物,水面"),
    ("0106", "绿地脏乱", "landscaping", "绿地,草坪"),
    ("0107", "废弃车辆", "public_security", "僵尸车,废弃车"),
    ("0108", "焚烧垃圾", "environment", "焚烧,烧垃圾,烟"),
    ("02", "宣传广告", "urban_management", ""),
    ("0201", "非法小广告", "urban_management", "小广告,牛皮癣,张贴"),
    ("0202", "违规户外广告", "urban_management", "广告牌,横幅"),
    ("0203", "街头散发广告", "urban_management", "派发传单,传单"),
    ("03", "施工管理", "housing", ""),
    ("0301", "施工扰民", "environment", "施工噪音,夜间施工"),
    ("0302", "工地扬尘", "environment", "扬尘,工地灰尘"),
    ("0303", "道路遗撒", "urban_management", "遗撒,撒漏"),
    ("0304", "施工占道", "transport", "施工占道,围挡"),
    ("0305", "无证掘路", "housing", "挖路,掘路"),
    ("04", "突发事件", "emergency", ""),
    ("0401", "路面塌陷", "housing", "塌陷,坑洞,塌方"),
    ("0402", "供水管道破裂", "water", "水管爆裂,漏水,爆管"),
    ("0403", "燃气泄漏", "gas", "燃气,煤气,气味"),
    ("0404", "下水道堵塞", "water", "下水道,堵塞,污水外溢"),
    ("0405", "供电线路故障", "power", "断电,电线,停电"),
    ("0406", "道路积水", "water", "积水,内涝,水浸"),
    ("0407", "火情", "fire", "起火,着火,火灾,冒烟"),
    ("05", "街面秩序", "urban_management", ""),
    ("0501", "无照游商", "market", "游商,流动摊贩,摆摊"),
    ("0502", "店外经营", "urban_management", "店外经营,出店"),
    ("0503", "机动车乱停放", "transport", "乱停,违停,占道停车"),
    ("0504", "非机动车乱停放", "urban_management", "电动车,共享单车"),
    ("0505", "占道堆物", "urban_management", "占道,堆物"),
    ("0506", "露天烧烤", "environment", "烧烤,油烟"),
    ("06", "其他事件", "street_office", ""),
    ("0601", "其他事件", "street_office", ""),
]

COMPONENTS = [
    ("01", "公用设施", "urban_management", ""),
    ("0101", "井盖缺损", "water", "井盖,窨井"),
    ("0102", "消防栓损坏", "fire", "消防栓"),
    ("0103", "路灯故障", "urban_management", "路灯,不亮"),
    ("0104", "公厕设施损坏", "sanitation", "公厕,厕所"),
    ("0105", "垃圾箱损坏", "sanitation", "垃圾桶,垃圾箱"),
    ("0106", "通信设施损坏", "telecom", "通信,光缆,电线杆"),
    ("02", "道路交通", "transport", ""),
    ("0201", "交通信号灯故障", "public_security", "红绿灯,信号灯"),
    ("0202", "交通标志损坏", "transport", "标志牌,路牌"),
    ("0203", "道路护栏损坏", "transport", "护栏,隔离栏"),
    ("0204", "公交站亭损坏", "transport", "公交站,站台"),
    ("0205", "路面破损", "housing", "路面破损,人行道"),
    ("03", "市容环境设施", "urban_management", ""),
    ("0301", "广告牌匾破损", "urban_management", "招牌,牌匾"),
    ("0302", "宣传栏破损", "urban_management", "宣传栏"),
    ("04", "园林绿化", "landscaping", ""),
    ("0401", "行道树倒伏", "landscaping", "树倒,倒伏,断枝"),
    ("0402", "绿地损坏", "landscaping", "毁绿,踩踏"),
    ("0403", "古树名木受损", "landscaping", "古树"),
    ("05", "房屋土地", "housing", ""),
    ("0501", "危房", "housing", "危房,墙体开裂,裂缝"),
    ("0502", "外立面脱落", "housing", "外墙,脱落,瓷砖"),
    ("06", "其他部件", "street_office", ""),
    ("0601", "其他部件", "street_office", ""),
]

GOVERNANCE = [
    ("01", "矛盾纠纷", "justice", ""),
    ("0101", "邻里纠纷", "community_office", "邻居,邻里,吵架"),
    ("0102", "家庭婚姻纠纷", "community_office", "家庭,婚姻,赡养"),
    ("0103", "物业纠纷", "housing", "物业,物业费"),
    ("0104", "劳资纠纷", "human_resources", "欠薪,工资,讨薪"),
    ("0105", "土地山林纠纷", "natural_resources", "土地,山林,宅基地"),
    ("02", "安全隐患", "emergency", ""),
    ("0201", "消防隐患", "fire", "消防通道,堵塞通道,飞线充电,灭火器"),
    ("0202", "建筑安全隐患", "housing", "脚手架,高空坠物"),
    ("0203", "燃气安全隐患", "gas", "燃气瓶,液化气"),
    ("0204", "治安隐患", "public_security", "治安,可疑,偷盗"),
    ("0205", "食品安全隐患", "market", "食品,过期,变质"),
    ("03", "环境卫生", "sanitation", ""),
    ("0301", "生活垃圾清运不及时", "sanitation", "清运,垃圾满"),
    ("0302", "污水直排", "environment", "排污,污水"),
    ("0303", "噪音扰民", "public_security", "噪音,吵闹,广场舞"),
    ("0304", "卫生死角", "community_office", "卫生死角,蚊虫,老鼠"),
    ("04", "乱停乱放", "urban_management", ""),
    ("0401", "小区乱停车", "community_office", "小区停车,堵门"),
    ("0402", "占用消防通道停车", "fire", "消防通道停车"),
    ("05", "乱搭乱建", "urban_management", ""),
    ("0501", "违章搭建", "urban_management", "违章搭建,加建,楼顶"),
    ("0502", "侵占公共空间", "urban_management", "侵占,圈占,楼道堆物"),
    ("06", "社情民意", "street_office", ""),
    ("0601", "意见建议", "community_office", "建议,意见"),
    ("0602", "民生诉求", "community_office", "诉求,困难,求助"),
    ("0603", "政策咨询", "community_office", "咨询,政策"),
]

TREES = {"event": EVENTS, "component": COMPONENTS, "governance": GOVERNANCE}

#: Categories not listed publicly (residents' disputes and security matters are personal).
PRIVATE = {
    ("governance", "01"),
    ("governance", "0101"),
    ("governance", "0102"),
    ("governance", "0104"),
    ("governance", "0105"),
    ("governance", "0204"),
}

URGENT = {
    ("event", "0401"),
    ("event", "0402"),
    ("event", "0403"),
    ("event", "0407"),
    ("governance", "0201"),
    ("governance", "0203"),
}

#: (tree, code): [(code, datatype, label, required, values)]
QUESTIONS = {
    ("event", "0503"): [("plate", "string", "车牌号（如能看清）", False, [])],
    ("event", "0401"): [
        (
            "size",
            "singlevaluelist",
            "塌陷大小",
            True,
            [
                {"key": "small", "name": "小于1米"},
                {"key": "medium", "name": "1至3米"},
                {"key": "large", "name": "大于3米"},
            ],
        ),
        (
            "traffic",
            "singlevaluelist",
            "是否影响通行",
            True,
            [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}],
        ),
    ],
    ("governance", "0201"): [
        (
            "hazard",
            "multivaluelist",
            "隐患类型",
            True,
            [
                {"key": "blocked_exit", "name": "堵塞消防通道"},
                {"key": "charging", "name": "电动车违规充电"},
                {"key": "extinguisher", "name": "灭火器缺失或过期"},
                {"key": "wiring", "name": "私拉乱接电线"},
            ],
        )
    ],
    ("governance", "0101"): [("parties", "number", "涉及户数", False, [])],
    ("component", "0101"): [
        (
            "cover_state",
            "singlevaluelist",
            "井盖情况",
            True,
            [
                {"key": "missing", "name": "缺失"},
                {"key": "broken", "name": "破损"},
                {"key": "loose", "name": "松动"},
            ],
        )
    ],
}

#: Deadline policies: (name, stage, amount, unit, warn_ratio, on_overdue, priority, filters)
POLICIES = [
    ("半天响应：社区半个工作日内立案", "record", "0.5", "days", 0.8, "supervise", 0, {}),
    ("公众号诉求：1个工作日内立案", "record", "1", "days", 0.8, "supervise", 0, {"channel": "resident"}),
    ("系统派遣：2个工作小时内派遣", "dispatch", "2", "hours", 0.75, "supervise", 0, {}),
    ("半天响应：社区半个工作日内办结", "handle", "0.5", "days", 0.8, "escalate", 0, {"level": "community"}),
    ("137工作法：街道1个工作日内解决", "handle", "1", "days", 0.8, "escalate", 0, {"level": "street"}),
    ("137工作法：城区3个工作日内解决", "handle", "3", "days", 0.8, "escalate", 0, {"level": "district"}),
    ("137工作法：市级7个工作日内解决", "handle", "7", "days", 0.8, "supervise", 0, {"level": "city"}),
    (
        "公众号诉求：5个工作日内解决并答复",
        "handle",
        "5",
        "days",
        0.8,
        "escalate",
        0,
        {"channel": "resident", "level": "community"},
    ),
    ("紧急事件：2个工作小时内处置", "handle", "2", "hours", 0.5, "escalate", 5, {"urgency": "critical"}),
    ("核查：1个工作日内到场核查", "verify", "1", "days", 0.8, "supervise", 0, {}),
    ("结案：半个工作日内结案", "close", "0.5", "days", 0.8, "warn", 0, {}),
    ("风险点：每20个工作日复核", "review", "20", "days", 0.9, "warn", 0, {}),
]

#: Category limits (in working hours), e.g. a road collapse is made safe within 4 working hours.
CATEGORY_LIMITS = [
    (("event", "0401"), "4", "hours", "escalate"),
    (("event", "0402"), "4", "hours", "escalate"),
    (("event", "0403"), "1", "hours", "escalate"),
    (("event", "0407"), "1", "hours", "escalate"),
    (("governance", "0201"), "8", "hours", "escalate"),
    (("event", "0201"), "16", "hours", "supervise"),
]
