"""The words of civilian reports, in English and Ukrainian (docs/civilian-reports.md): the
object catalogue, the statuses and the safety text every answer carries. Never an
instruction to touch or move anything."""

from __future__ import annotations

# a fixed catalogue: what a civilian can tell apart from a distance (a picture each on the map)
OBJECT_TYPES: dict[str, dict[str, str]] = {
    "mine": {"en": "mine", "uk": "міна"},
    "tripwire": {"en": "tripwire (thin wire or cord)", "uk": "розтяжка (тонкий дріт або шнур)"},
    "shell": {"en": "artillery or mortar shell", "uk": "артилерійський або мінометний снаряд"},
    "rocket": {"en": "rocket or missile", "uk": "ракета"},
    "grenade": {"en": "grenade", "uk": "граната"},
    "submunition": {"en": "cluster submunition", "uk": "касетний суббоєприпас"},
    "bomb": {"en": "aircraft bomb", "uk": "авіаційна бомба"},
    "unknown": {"en": "unknown object or other", "uk": "невідомий предмет або інше"},
}

SAFETY = {
    "en": "Do not touch or approach. Leave the way you came. Call 101.",
    "uk": "Не торкайтеся і не наближайтеся. Відходьте тим самим шляхом, яким прийшли. "
    "Телефонуйте 101.",
}

_STATUS = {
    "received": {
        "en": "Received. The report is waiting to be checked by the mine action authority.",
        "uk": "Отримано. Повідомлення чекає на перевірку органом протимінної діяльності.",
    },
    "checked": {
        "en": "Checked. The report was checked and entered in the register.",
        "uk": "Перевірено. Повідомлення перевірено і внесено до реєстру.",
    },
    "team_sent": {
        "en": "Team sent. The place was assigned to a survey or clearance team.",
        "uk": "Команду направлено. Місце передано команді обстеження або розмінування.",
    },
    "cleared": {
        "en": "Cleared. The recorded hazard at this place has been closed.",
        "uk": "Очищено. Зареєстровану небезпечну територію в цьому місці закрито.",
    },
    "closed": {
        "en": "Closed. No further action is planned on this report.",
        "uk": "Закрито. Подальших дій за цим повідомленням не заплановано.",
    },
}
STATUSES = tuple(_STATUS)


def status_text(state: str) -> dict[str, str]:
    """The status in both languages, each ending with the safety text."""
    return {lang: f"{_STATUS[state][lang]} {SAFETY[lang]}" for lang in ("en", "uk")}


def description(object_type: str) -> str:
    """The public description of an approved civilian report: the object type only (the
    civilian's own words may name people or phones: they stay restricted)."""
    t = OBJECT_TYPES[object_type]
    return f"Civilian report: {t['en']} / Повідомлення громадянина: {t['uk']}"
