"""Every fixed string of the annual report, by language (:data:`TEXT`), and the Ukrainian
names of the codes it shows (:data:`VALUES_UK`). Plain text, never HTML: the renderer escapes
it; ``**...**`` marks emphasis (bold in the HTML page). A declarative table."""

from __future__ import annotations

from typing import Any

from demine.errors import Fault, ValidationError
from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK

LANGS = ("en", "uk")

# Every fixed string of the report, by language. Values that are codes in the data (device
# categories, hazard types, casualty breakdown cells) are shown as they are in English and
# through VALUES in Ukrainian.
TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Mine action annual report {year}",
        "meta": "1 January – 31 December {year}. Generated {generated} by demine {version} "
        "from the records in the store, for the **{role}** role.",
        "meta_by": " Administrative areas: reference layer **{by}**.",
        "synthetic": "SYNTHETIC DATA — generated for demonstration. These figures describe no "
        "real place and must never be used for safety decisions. СИНТЕТИЧНІ ДАНІ — лише для "
        "демонстрації.",
        "area": "Area",
        "area_by": "Area ({by})",
        "total": "Total",
        "no_records": "No records.",
        "fig_released": "Land released",
        "fig_remaining": "Remaining hazardous area at 31 Dec",
        "fig_open": "Hazardous areas open at 31 Dec",
        "fig_devices": "Devices found",
        "fig_accidents": "Accidents",
        "fig_casualties": "Casualties",
        "fig_eore": "Risk-education beneficiaries",
        "km2": "km²",
        "h_land": "1. Land release in {year}",
        "land_note": "Cancelled: released by non-technical survey; reduced: by technical "
        "survey; cleared: by clearance (IMAS 07.11). A polygon released twice is counted "
        "once, in the year of the earlier release; parts outside a hazard are never counted. "
        "Each piece is rounded to a whole m² once; every total is a sum of those, so the m² "
        "columns add up exactly (km² are shown to three decimals for reading).",
        "land_head": [
            "{label}",
            "Cancelled by NTS (m²)",
            "km²",
            "Reduced by TS (m²)",
            "km²",
            "Cleared (m²)",
            "km²",
            "Total released (m²)",
            "km²",
        ],
        "land_caption": "Land released in {year}, by area",
        "not_counted": "Not counted: {overlap} m² released again where land was already "
        "released; {outside} m² of release polygons outside their hazard",
        "no_hazard": "; {k} release(s) naming no known hazard",
        "year": "Year",
        "years_caption": "Land released per year, {period}",
        "h_form_c": "2. Article 7, Form C — location of mined areas",
        "form_c_note": "Hazardous areas recorded by 31 December and not closed by then, with "
        "the area that remained after the land released up to that day. SHA: suspected "
        "hazardous area (indirect evidence); CHA: confirmed hazardous area (direct "
        "evidence). Hazards are counted in the area holding a point inside them; their "
        "remaining area is split among the areas it lies in.",
        "overlap": " {n} open hazards overlap another: the land they share is counted once in "
        "the total remaining (the rows and the SHA and CHA columns sum to {sum} m², the union "
        "is {union} m²).",
        "c_head": ["Hazardous areas", "SHA (m²)", "CHA (m²)", "Remaining (m²)", "km²"],
        "c_caption": "Hazardous areas remaining at 31 December {year}",
        "h_head": [
            "Reference",
            "Name",
            "Type",
            "{area}",
            "Device categories",
            "Recorded (m²)",
            "Remaining (m²)",
        ],
        "h_caption": "Each hazardous area remaining",
        "h_form_f": "3. Article 7, Form F — status of programmes for release and destruction",
        "progress_head": ["Progress in {year}", "Number"],
        "progress": [
            "Hazardous areas newly recorded",
            "Hazardous areas closed",
            "Non-technical surveys completed",
            "Technical surveys completed",
            "Clearance tasks completed",
            "QA/QC completed",
            "Land released (m²)",
            "Remaining hazardous area at 31 December (m²)",
        ],
        "progress_caption": "Progress",
        "dev_head": [
            "Device category",
            "Live",
            "Deactivated, intact",
            "Self-destructed remnant",
            "Unknown",
            "Total",
        ],
        "dev_caption": "Devices found in survey and clearance in {year}, by category and state",
        "h_form_i": "4. Article 7, Form I — explosive ordnance risk education",
        "eore_head": ["Organisation", "Sessions", "Girls", "Boys", "Women", "Men", "Total"],
        "eore_caption": "Risk education in {year}: sessions and beneficiaries by sex and age "
        "(girls and boys: under 18)",
        "h_accidents": "5. Accidents and casualties",
        "acc_head": ["Accidents", "Number"],
        "acc_caption": "Accidents by type",
        "acc_dev_head": ["Device category", "Accidents"],
        "acc_dev_caption": "Accidents by device category",
        "cas_note": "Casualties are people killed or injured (IMAS 10.60). Only counts are "
        "published here; no personal data.",
        "cas_rule": " Counts from 1 to 4 are shown as “<5”; a figure of people from fewer "
        "than 3 accidents is withheld, and so is a breakdown with any such small cell in any "
        "year, whole, so that no small count and no single accident's casualties can be "
        "recovered by subtraction from the total or from another period.",
        "cas_exact": " This copy shows exact counts (victim-assistance role): do not publish it.",
        "cas_head": ["Casualties", "Number"],
        "cas_all": "All casualties",
        "cas_caption": "Casualties in {year}",
        "breakdowns": {
            "outcome": "By outcome",
            "sex": "By sex",
            "age_group": "By age (child: under 18)",
            "victim_type": "By type of victim",
            "accident_type": "By type of accident",
            "area": "By administrative area (of the accident)",
        },
        "cas_col": "Casualties",
        "withheld": "withheld",
        "h_method": "6. Method and sources",
        "source": "Source: the demine register ({generated}): hazardous areas, survey and "
        "clearance activities, land-release records, device finds, accidents and victims, "
        "risk-education sessions.",
        "counting": "Land counts in the year of its release date (released_on); finds in the "
        "year found, accidents and their casualties in the year they happened, risk education "
        "in the year held.",
        "layout": "Layout: Landmine Monitor land-release tables; Convention on the Prohibition "
        "of Anti-Personnel Mines (Ottawa Convention), Article 7 transparency report Forms C, F "
        "and I.",
        "pdf_page": "page",
    },
    "uk": {
        "title": "Річний звіт з протимінної діяльності за {year} рік",
        "meta": "1 січня – 31 грудня {year} р. Створено {generated} програмою demine {version} "
        "на основі записів сховища, для ролі **{role}**.",
        "meta_by": " Адміністративні одиниці: довідковий шар **{by}**.",
        "synthetic": f"{SYNTHETIC_NOTICE_UK} Ці показники не описують жодного реального місця. "
        f"({SYNTHETIC_NOTICE})",
        "area": "Адміністративна одиниця",
        "area_by": "Адміністративна одиниця ({by})",
        "total": "Усього",
        "no_records": "Записів немає.",
        "fig_released": "Вивільнено територій",
        "fig_remaining": "Залишок небезпечної площі на 31 грудня",
        "fig_open": "Незакриті небезпечні території на 31 грудня",
        "fig_devices": "Виявлено вибухонебезпечних предметів (ВНП)",
        "fig_accidents": "Нещасні випадки",
        "fig_casualties": "Постраждалі",
        "fig_eore": "Охоплено інформуванням про ризики ВНП (осіб)",
        "km2": "км²",
        "h_land": "1. Вивільнення територій у {year} році",
        "land_note": "Скасовано: вивільнено нетехнічним обстеженням; зменшено: технічним "
        "обстеженням; очищено: розмінуванням (IMAS 07.11). Полігон, вивільнений двічі, "
        "враховується один раз — у році першого вивільнення; частини поза небезпечною "
        "територією не враховуються ніколи. Кожну частину округлено до цілого м² один раз; "
        "кожен підсумок є сумою цих значень, тож стовпці м² сходяться точно (км² показано з "
        "трьома знаками після коми для зручності читання).",
        "land_head": [
            "{label}",
            "Скасовано нетехнічним обстеженням (м²)",
            "км²",
            "Зменшено технічним обстеженням (м²)",
            "км²",
            "Очищено (м²)",
            "км²",
            "Усього вивільнено (м²)",
            "км²",
        ],
        "land_caption": "Вивільнені території у {year} році за адміністративними одиницями",
        "not_counted": "Не враховано: {overlap} м² повторного вивільнення там, де територію вже "
        "було вивільнено; {outside} м² полігонів вивільнення поза межами їхньої небезпечної "
        "території",
        "no_hazard": "; записів про вивільнення без відомої небезпечної території: {k}",
        "year": "Рік",
        "years_caption": "Вивільнені території за роками, {period}",
        "h_form_c": "2. Стаття 7 Оттавської конвенції, форма C — розташування замінованих "
        "територій",
        "form_c_note": "Небезпечні території, зареєстровані до 31 грудня й не закриті на цю "
        "дату, з площею, що залишилася після вивільнення територій до цього дня. ПНТ: "
        "підозріла небезпечна територія (непрямі ознаки); ПдНТ: підтверджена небезпечна "
        "територія (прямі докази). Небезпечну територію враховано в тій адміністративній "
        "одиниці, де лежить точка всередині неї; її залишкову площу розподілено між "
        "адміністративними одиницями, у яких вона лежить.",
        "overlap": " Відкриті небезпечні території, що перекриваються з іншими: {n}; спільна "
        "площа враховується один раз у загальній залишковій площі (сума рядків і стовпців ПНТ "
        "і ПдНТ "
        "{sum} м², об’єднання {union} м²).",
        "c_head": [
            "Небезпечні території",
            "ПНТ (м²)",
            "ПдНТ (м²)",
            "Залишок (м²)",
            "км²",
        ],
        "c_caption": "Небезпечні території, що залишалися на 31 грудня {year} р.",
        "h_head": [
            "Реєстраційний номер",
            "Назва",
            "Тип",
            "{area}",
            "Категорії ВНП",
            "Зареєстровано (м²)",
            "Залишок (м²)",
        ],
        "h_caption": "Кожна небезпечна територія, що залишилася",
        "h_form_f": "3. Стаття 7 Оттавської конвенції, форма F — стан виконання програм "
        "вивільнення територій і знищення",
        "progress_head": ["Результати за {year} рік", "Кількість"],
        "progress": [
            "Нових зареєстрованих небезпечних територій",
            "Закритих небезпечних територій",
            "Завершених нетехнічних обстежень",
            "Завершених технічних обстежень",
            "Завершених завдань з розмінування",
            "Завершених перевірок контролю якості (QA/QC)",
            "Вивільнено територій (м²)",
            "Залишок небезпечної площі на 31 грудня (м²)",
        ],
        "progress_caption": "Результати",
        "dev_head": [
            "Категорія ВНП",
            "Бойові",
            "Деактивовані, цілі",
            "Залишки після самоліквідації",
            "Стан невідомий",
            "Усього",
        ],
        "dev_caption": "Вибухонебезпечні предмети (ВНП), виявлені під час обстеження та "
        "розмінування у {year} році, за категоріями і станом",
        "h_form_i": "4. Стаття 7 Оттавської конвенції, форма I — інформування про ризики ВНП",
        "eore_head": [
            "Організація",
            "Заняття",
            "Дівчата",
            "Хлопці",
            "Жінки",
            "Чоловіки",
            "Усього",
        ],
        "eore_caption": "Інформування про ризики ВНП у {year} році: заняття та учасники за "
        "статтю й віком (дівчата і хлопці: до 18 років)",
        "h_accidents": "5. Нещасні випадки та постраждалі",
        "acc_head": ["Нещасні випадки", "Кількість"],
        "acc_caption": "Нещасні випадки за типом",
        "acc_dev_head": ["Категорія ВНП", "Нещасні випадки"],
        "acc_dev_caption": "Нещасні випадки за категорією ВНП",
        "cas_note": "Постраждалі — загиблі або поранені особи (IMAS 10.60). Тут публікуються "
        "лише кількості; жодних персональних даних.",
        "cas_rule": " Кількості від 1 до 4 показано як «<5»; показник, що охоплює "
        "постраждалих менш ніж від 3 нещасних випадків, не публікується, як і повністю розподіл "
        "із хоча б одною такою малою кількістю в будь-якому році, щоб ні малу кількість, ні "
        "кількість постраждалих одного нещасного випадку не можна було відновити відніманням від "
        "загальної чи від іншого періоду.",
        "cas_exact": " Ця копія містить точні кількості (роль допомоги постраждалим): не "
        "публікуйте її.",
        "cas_head": ["Постраждалі", "Кількість"],
        "cas_all": "Усі постраждалі",
        "cas_caption": "Постраждалі у {year} році",
        "breakdowns": {
            "outcome": "За наслідками",
            "sex": "За статтю",
            "age_group": "За віком (діти: до 18 років)",
            "victim_type": "За категорією постраждалих",
            "accident_type": "За типом нещасного випадку",
            "area": "За адміністративною одиницею (місця нещасного випадку)",
        },
        "cas_col": "Постраждалі",
        "withheld": "не публікується",
        "h_method": "6. Методика та джерела",
        "source": "Джерело: реєстр demine ({generated}): небезпечні території, заходи з "
        "обстеження та розмінування, записи про вивільнення територій, знахідки ВНП, нещасні "
        "випадки та постраждалі, заняття з інформування про ризики ВНП.",
        "counting": "Території враховуються в році дати вивільнення (released_on); знахідки — у "
        "році виявлення, нещасні випадки та їхні постраждалі — у році, коли вони сталися, "
        "інформування про ризики ВНП — у році проведення.",
        "layout": "Макет: таблиці вивільнення територій Landmine Monitor; звіт про заходи "
        "прозорості за статтею 7 Конвенції про заборону протипіхотних мін (Оттавська "
        "конвенція), форми C, F та I.",
        "rounding": "Площі геодезичні (WGS 84). Кожну зараховану частину вивільнення розділено "
        "за адміністративними одиницями й округлено до цілого м² один раз; кожен інший "
        "показник є сумою цих цілих чисел, тож скасовано + зменшено + очищено = вивільнено "
        "точно, а рядки в сумі дають підсумок.",
        "suppression": "Дані про постраждалих агреговані й складені з окремих календарних "
        "років. Для ролей, крім victim_assistance та admin, показник року малий, якщо він "
        "охоплює від 1 до 4 осіб або постраждалих менш ніж від 3 нещасних випадків. Загальна "
        "кількість публікується, лише якщо жоден рік періоду не малий (інакше «<5» для 1–4, "
        "або «не публікується»); розподіл не публікується повністю (його клітинки порожні), "
        "якщо будь-яка його клітинка мала в будь-якому році періоду, а за адміністративними "
        "одиницями — завжди. Тож кожен опублікований показник — сума цілих років без малих "
        "клітинок, і ні клітинки однієї відповіді, ні два періоди не можна відняти одне від "
        "одного, щоб отримати малу кількість чи постраждалих одного нещасного випадку. 0 "
        "лишається 0.",
        "pdf_page": "сторінка",
    },
}

# Ukrainian names of the codes shown in the report (English shows the codes themselves).
VALUES_UK = {
    # hazard types
    "SHA": "ПНТ",
    "CHA": "ПдНТ",
    # device categories
    "ap_blast": "протипіхотні фугасні міни",
    "ap_fragmentation": "протипіхотні осколкові міни",
    "at": "протитранспортні міни",
    "uxo": "нерозірвані боєприпаси (НВБ)",
    "cluster_submunition": "касетні суббоєприпаси",
    "ied": "саморобні вибухові пристрої (СВП)",
    "other": "інші",
    "unknown": "невідомо",
    # accident types, outcomes, sex, age, victims
    "demining": "під час розмінування",
    "civilian": "цивільні",
    "killed": "загиблі",
    "injured": "поранені",
    "female": "жіноча",
    "male": "чоловіча",
    "child": "діти",
    "adult": "дорослі",
    "deminer": "сапери",
    "military": "військові",
    "unassigned": "поза межами адміністративних одиниць",
}
ACCIDENT_TYPES_UK = {
    "demining": "під час розмінування",
    "civilian": "серед цивільного населення",
    "unknown": "невідомо",
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValidationError(
            f"unknown report language {lang!r}",
            [Fault(f"expected one of {', '.join(LANGS)}", field="lang")],
        )
    return lang
