"""The hand-written stories of the standard newsroom, in English and Arabic, and the wire
story three publishers syndicate."""

from __future__ import annotations

WIRE_TITLE = "Peshmerga and Iraqi army agree on joint patrols in disputed areas"
WIRE_TEXT = (
    "Kurdish Peshmerga forces and the Iraqi army have agreed to run joint patrols along a "
    "stretch of disputed territory where Islamic State cells have exploited security gaps, "
    "officials from both sides said on Thursday.",
    "The agreement, reached at a meeting in Erbil attended by commanders from the Ministry "
    "of Peshmerga and the Iraqi Joint Operations Command, covers villages between Kirkuk "
    "and Diyala that neither force has fully controlled since 2017.",
    "Commanders said the first patrols would begin within two weeks, with shared checkpoints "
    "and a coordination centre staffed by officers from both forces around the clock.",
    "Residents of the area have complained for years that militants move freely at night, "
    "planting roadside bombs and abducting shepherds for ransom while the two forces argue "
    "over who is responsible for the gaps between their lines.",
)

STORIES: list[dict[str, object]] = [
    {
        "path": "/news/2026/11/militias-interior-ministry.html",
        "title": "Iran-backed factions press claim to Iraq's Interior Ministry",
        "author": "Layla Hassan",
        "paragraphs": (
            "Parties linked to the Popular Mobilization Forces are pressing Prime Minister "
            "designate candidates to hand them the Interior Ministry, according to three "
            "politicians involved in the cabinet talks in Baghdad.",
            "The ministry commands the federal police and the border guards, and critics say "
            "control of it would give the factions legal cover for operations they now carry "
            "out in the shadows, from checkpoints on the Baghdad airport road to raids on "
            "activists' homes.",
            "A senior member of the Fatah bloc rejected the accusation, saying the alliance "
            "only wanted a minister who would respect the sacrifices of al-Hashd al-Sha'bi in "
            "the war against Islamic State.",
            "Western diplomats have privately warned that a ministry run by the factions "
            "would complicate training programmes for Iraqi police units funded by donors.",
        ),
    },
    {
        "path": "/news/2026/11/basra-protests-electricity.html",
        "title": "Basra protesters block port road over power cuts",
        "author": "Omar Khalid",
        "paragraphs": (
            "Hundreds of protesters blocked the main road to Umm Qasr port south of Basra "
            "on Wednesday, burning tyres and demanding an end to power cuts that leave homes "
            "without electricity for up to twelve hours a day as temperatures pass fifty "
            "degrees.",
            "Riot police fired tear gas to reopen the road, and the provincial health "
            "directorate said eleven people were treated for breathing problems.",
            "Basra produces most of Iraq's oil, and its residents have long complained that "
            "the wealth flowing through the province brings them little but polluted water "
            "and unemployment.",
            "The governor promised new generators within a month, a pledge protesters "
            "greeted with jeers because similar promises were made last summer.",
        ),
    },
    {
        "path": "/news/2026/11/soleimani-anniversary-quds-force.html",
        "title": "Quds Force commander visits Baghdad ahead of Soleimani anniversary",
        "author": "Sara Mahdi",
        "paragraphs": (
            "The commander of Iran's Quds Force arrived in Baghdad for talks with faction "
            "leaders weeks before the anniversary of the killing of Qassem Soleimani in a US "
            "drone strike near the city's airport.",
            "Iraqi officials said the visit aimed to calm rivalries between armed groups that "
            "have grown more open since Soleimani's death removed the one figure all of them "
            "obeyed.",
            "Posters of Soleimani and Abu Mahdi al-Muhandis have already gone up along the "
            "airport road, where supporters plan a march on the anniversary.",
        ),
    },
    {
        "path": "/news/2026/11/khazali-warns-us-troops.html",
        "title": "Khazali warns US troops to leave Iraq or face 'resistance'",
        "author": "Layla Hassan",
        "paragraphs": (
            "Qais al-Khazali, leader of Asa'ib Ahl al-Haq, said in a televised speech that "
            "American forces remaining in Iraq after the end of the coalition mission would "
            "be treated as occupiers.",
            "His group was designated a terrorist organisation by Washington, which accuses "
            "it of attacks on bases hosting US troops in Anbar and Erbil.",
            "A spokesman for the coalition said advisers remained in Iraq at the invitation "
            "of the government and that force protection measures had been reviewed.",
        ),
    },
    {
        "path": "/news/2026/11/isis-cells-hamrin.html",
        "title": "Islamic State cells regroup in Hamrin mountains, officers say",
        "author": "Omar Khalid",
        "paragraphs": (
            "Iraqi intelligence officers say Islamic State militants have rebuilt small cells "
            "in the Hamrin mountains, using caves and orchards to hide weapons and launch "
            "night attacks on army outposts.",
            "The number of attacks remains far below the levels seen before 2017, but "
            "officers worry about a steady rise in kidnappings and extortion of farmers.",
            "Air strikes by Iraqi F-16s hit several hideouts last week, the Joint Operations "
            "Command said, killing at least nine militants.",
        ),
    },
]

ARABIC_STORIES: list[dict[str, object]] = [
    {
        "path": "/ar/news/2026/11/interior-ministry-talks.html",
        "title": "خلافات حول حقيبة وزارة الداخلية تؤخر تشكيل الحكومة العراقية",
        "author": "علي الساعدي",
        "paragraphs": (
            "قال نواب في البرلمان العراقي إن الخلاف على وزارة الداخلية ما زال يعرقل "
            "الاتفاق على التشكيلة الحكومية الجديدة، مع إصرار فصائل مسلحة على تسمية الوزير.",
            "وأضاف النواب أن القوى الكردية والسنية تطالب بوزير مستقل لا ينتمي إلى أي فصيل، "
            "خشية استخدام الوزارة في تصفية الخصوم السياسيين في بغداد والمحافظات.",
            "ويرى مراقبون أن السيطرة على وزارة الداخلية تمنح من يتولاها نفوذا واسعا على "
            "الشرطة الاتحادية وحرس الحدود ومنافذ الدخول إلى البلاد.",
        ),
    },
    {
        "path": "/ar/news/2026/11/basra-water.html",
        "title": "أزمة المياه المالحة تعود إلى البصرة مع اشتداد الحر",
        "author": "زينب الموسوي",
        "paragraphs": (
            "عادت أزمة ملوحة المياه إلى مدينة البصرة مع ارتفاع درجات الحرارة، وسط شكاوى "
            "الأهالي من انقطاع الكهرباء لساعات طويلة في أحياء عدة من المدينة.",
            "وقالت دائرة الصحة في المحافظة إن المستشفيات استقبلت عشرات الحالات من التسمم "
            "المعوي خلال الأسبوع الماضي، داعية المواطنين إلى غلي المياه قبل شربها.",
            "وتظاهر مئات من سكان قضاء أبي الخصيب أمام مبنى المحافظة مطالبين بحلول عاجلة، "
            "فيما وعد المحافظ بتشغيل محطات تحلية جديدة قبل نهاية العام.",
        ),
    },
]
