"""What residents read for a JMA telegram in the languages they can choose besides Japanese and English
(jma_rules writes those two): a short headline naming the place and the hazard, and one sentence saying what to
do. Keyed by the kind of plan (``Plan.kind``); ``{town}`` is the town's name, ``{int}`` a seismic intensity.

Chinese readers get the town's kanji name, the others its romanised name (``Tenant.name_en``).
Texts were written by us, not by a native speaker of every language: the wording follows the Cabinet Office /
JMA multilingual dictionary style (短く、何をすべきか), and should be reviewed with the town's international
association before go-live."""
from __future__ import annotations

LANGS = ("ja-x-easy", "zh-Hans", "zh-Hant", "ko", "vi", "pt")
KANJI_NAME = frozenset({"ja-x-easy", "zh-Hans", "zh-Hant"})

# seismic intensity labels: 5弱 / 5強 … per language (digits stay digits)
_INT = {
    "ja-x-easy": {"-": "じゃく", "+": "きょう"},
    "zh-Hans": {"-": "弱", "+": "强"}, "zh-Hant": {"-": "弱", "+": "強"},
    "ko": {"-": "약", "+": "강"}, "vi": {"-": " yếu", "+": " mạnh"}, "pt": {"-": " inferior", "+": " superior"},
}

# kind → language → (headline, what to do)
TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "special": {
        "ja-x-easy": ("{town}に 「とくべつけいほう」が でました", "いのちを まもる ために、すぐに あんぜんな ところへ いって ください。"),
        "zh-Hans": ("{town}：发布气象特别警报", "生命危险迫在眉睫，请立即采取保护生命的行动。"),
        "zh-Hant": ("{town}：發布氣象特別警報", "生命危險迫在眉睫，請立即採取保護生命的行動。"),
        "ko": ("{town}: 기상 특별경보 발표", "목숨을 지키기 위한 행동을 즉시 취하십시오."),
        "vi": ("{town}: Cảnh báo thời tiết đặc biệt", "Hãy hành động ngay để bảo vệ tính mạng."),
        "pt": ("{town}: Alerta meteorológico de emergência", "Aja agora para proteger a sua vida."),
    },
    "warning": {
        "ja-x-easy": ("{town}に 「けいほう」が でました", "あたらしい じょうほうを みて ください。はやめに ひなんする じゅんびを して ください。"),
        "zh-Hans": ("{town}：发布气象警报", "请关注最新信息，做好提前避难的准备。"),
        "zh-Hant": ("{town}：發布氣象警報", "請關注最新資訊，做好提前避難的準備。"),
        "ko": ("{town}: 기상 경보 발표", "최신 정보에 주의하고 조기 대피를 준비하십시오."),
        "vi": ("{town}: Cảnh báo thời tiết", "Hãy theo dõi thông tin mới nhất và chuẩn bị sơ tán sớm."),
        "pt": ("{town}: Alerta meteorológico", "Acompanhe as informações e prepare-se para evacuar cedo."),
    },
    "advisory": {
        "ja-x-easy": ("{town}に 「ちゅういほう」が でました", "これからの じょうほうに ちゅういして ください。"),
        "zh-Hans": ("{town}：发布气象注意报", "请留意今后的信息。"),
        "zh-Hant": ("{town}：發布氣象注意報", "請留意今後的資訊。"),
        "ko": ("{town}: 기상 주의보 발표", "앞으로의 정보에 주의하십시오."),
        "vi": ("{town}: Khuyến cáo thời tiết", "Hãy chú ý các thông tin tiếp theo."),
        "pt": ("{town}: Aviso meteorológico", "Fique atento às próximas informações."),
    },
    "landslide": {
        "ja-x-easy": ("{town}に 「どしゃさいがい けいかい じょうほう」が でました", "がけや やまの ちかくに いる ひとは ひなんして ください。"),
        "zh-Hans": ("{town}：发布泥石流灾害警戒信息", "位于泥石流灾害警戒区域的人请立即避难。"),
        "zh-Hant": ("{town}：發布土石災害警戒資訊", "位於土石災害警戒區域的人請立即避難。"),
        "ko": ("{town}: 토사재해 경계정보 발표", "토사재해 경계구역에 있는 분은 대피하십시오."),
        "vi": ("{town}: Cảnh báo sạt lở đất", "Người ở khu vực có nguy cơ sạt lở hãy đi sơ tán."),
        "pt": ("{town}: Alerta de deslizamento de terra", "Quem está em área de risco de deslizamento deve evacuar."),
    },
    "quake": {
        "ja-x-easy": ("{town}で じしん（しんど {int}）", "じぶんの みを まもって ください。ひを けして ください。また ゆれるかも しれません。"),
        "zh-Hans": ("{town}发生地震（震度{int}）", "请确保自身安全，检查火源和周围的损害，注意余震。"),
        "zh-Hant": ("{town}發生地震（震度{int}）", "請確保自身安全，檢查火源和周圍的損害，注意餘震。"),
        "ko": ("{town} 지진 발생 (진도 {int})", "몸의 안전을 확보하고 불씨와 주변 피해를 확인하십시오. 여진에 주의하십시오."),
        "vi": ("Động đất tại {town} (cường độ địa chấn {int})", "Hãy giữ an toàn, kiểm tra lửa và thiệt hại xung quanh. Cẩn thận dư chấn."),
        "pt": ("Terremoto em {town} (intensidade sísmica {int})", "Proteja-se, verifique fogo e danos ao redor. Cuidado com réplicas."),
    },
    "eew": {
        "ja-x-easy": ("きんきゅう じしん そくほう：{town}で つよい ゆれ", "すぐに じぶんの みを まもって ください。つくえの したに はいって ください。"),
        "zh-Hans": ("紧急地震速报：{town}预计强烈摇晃", "请立即保护自己（趴下、掩护、稳住）。"),
        "zh-Hant": ("緊急地震速報：{town}預計強烈搖晃", "請立即保護自己（趴下、掩護、穩住）。"),
        "ko": ("긴급지진속보: {town}에 강한 흔들림 예상", "즉시 몸을 보호하십시오 (엎드리고, 머리를 가리고, 붙잡으십시오)."),
        "vi": ("Cảnh báo động đất sớm: dự báo rung lắc mạnh tại {town}", "Hãy bảo vệ bản thân ngay (cúi xuống, che đầu, bám chặt)."),
        "pt": ("Alerta antecipado de terremoto: tremor forte previsto em {town}", "Proteja-se agora (abaixe-se, cubra-se, segure-se)."),
    },
    "eew_forecast": {
        "ja-x-easy": ("きんきゅう じしん そくほう（よほう）：{town}の ちかくで ゆれ（しんど {int}）", "ゆれに ちゅういして ください。"),
        "zh-Hans": ("紧急地震速报（预报）：{town}附近预计震度{int}", "请注意摇晃。"),
        "zh-Hant": ("緊急地震速報（預報）：{town}附近預計震度{int}", "請注意搖晃。"),
        "ko": ("긴급지진속보(예보): {town} 부근 진도 {int} 예상", "흔들림에 주의하십시오."),
        "vi": ("Dự báo động đất sớm: cường độ {int} quanh {town}", "Hãy chú ý rung lắc."),
        "pt": ("Previsão antecipada de terremoto: intensidade {int} perto de {town}", "Atenção ao tremor."),
    },
    "tsunami_major": {
        "ja-x-easy": ("{town}に 「おおつなみけいほう」", "おおきな つなみが きます。すぐに たかい ところへ にげて ください。"),
        "zh-Hans": ("{town}：大海啸警报", "巨大海啸即将来袭，请立即前往高处避难。"),
        "zh-Hant": ("{town}：大海嘯警報", "巨大海嘯即將來襲，請立即前往高處避難。"),
        "ko": ("{town}: 대형 쓰나미 경보", "거대한 쓰나미가 옵니다. 즉시 높은 곳으로 대피하십시오."),
        "vi": ("{town}: Cảnh báo sóng thần lớn", "Sóng thần lớn đang đến. Hãy lập tức sơ tán lên chỗ cao."),
        "pt": ("{town}: Alerta de grande tsunami", "Um grande tsunami está chegando. Vá para um lugar alto agora."),
    },
    "tsunami": {
        "ja-x-easy": ("{town}に 「つなみけいほう」", "つなみが きます。すぐに たかい ところへ にげて ください。"),
        "zh-Hans": ("{town}：海啸警报", "海啸即将来袭，请立即前往高处避难。"),
        "zh-Hant": ("{town}：海嘯警報", "海嘯即將來襲，請立即前往高處避難。"),
        "ko": ("{town}: 쓰나미 경보", "쓰나미가 옵니다. 즉시 높은 곳으로 대피하십시오."),
        "vi": ("{town}: Cảnh báo sóng thần", "Sóng thần đang đến. Hãy lập tức sơ tán lên chỗ cao."),
        "pt": ("{town}: Alerta de tsunami", "Um tsunami está chegando. Vá para um lugar alto agora."),
    },
    "tsunami_advisory": {
        "ja-x-easy": ("{town}に 「つなみちゅういほう」", "うみから あがって ください。うみの ちかくへ いかないで ください。"),
        "zh-Hans": ("{town}：海啸注意报", "请离开海水，不要靠近海岸。"),
        "zh-Hant": ("{town}：海嘯注意報", "請離開海水，不要靠近海岸。"),
        "ko": ("{town}: 쓰나미 주의보", "바다에서 나오고 해안에 가까이 가지 마십시오."),
        "vi": ("{town}: Khuyến cáo sóng thần", "Hãy ra khỏi nước và tránh xa bờ biển."),
        "pt": ("{town}: Aviso de tsunami", "Saia da água e afaste-se da costa."),
    },
    "volcano_evacuate": {
        "ja-x-easy": ("{town}に 「ふんかけいほう」", "まちの ひなんの じょうほうに したがって ください。"),
        "zh-Hans": ("{town}：火山喷发警报（居住地区）", "请遵从当地政府的避难指示。"),
        "zh-Hant": ("{town}：火山噴發警報（居住地區）", "請遵從當地政府的避難指示。"),
        "ko": ("{town}: 분화경보(거주지역)", "지자체의 대피 지시에 따르십시오."),
        "vi": ("{town}: Cảnh báo núi lửa (khu dân cư)", "Hãy làm theo chỉ thị sơ tán của chính quyền."),
        "pt": ("{town}: Alerta vulcânico (áreas residenciais)", "Siga as ordens de evacuação da prefeitura."),
    },
    "volcano_crater": {
        "ja-x-easy": ("{town}に 「ふんかけいほう（かこう しゅうへん）」", "かざんの かこうに ちかづかないで ください。"),
        "zh-Hans": ("{town}：火山喷发警报（火山口周边）", "请不要靠近火山口。"),
        "zh-Hant": ("{town}：火山噴發警報（火山口周邊）", "請不要靠近火山口。"),
        "ko": ("{town}: 분화경보(화구 주변)", "화구 주변에 가까이 가지 마십시오."),
        "vi": ("{town}: Cảnh báo núi lửa (quanh miệng núi lửa)", "Không đến gần miệng núi lửa."),
        "pt": ("{town}: Alerta vulcânico (perto da cratera)", "Não se aproxime da cratera."),
    },
    "volcano_forecast": {
        "ja-x-easy": ("{town}に かざんの じょうほう", "これからの じょうほうに ちゅういして ください。"),
        "zh-Hans": ("{town}：火山预报", "请留意今后的信息。"),
        "zh-Hant": ("{town}：火山預報", "請留意今後的資訊。"),
        "ko": ("{town}: 화산 예보", "앞으로의 정보에 주의하십시오."),
        "vi": ("{town}: Dự báo núi lửa", "Hãy chú ý các thông tin tiếp theo."),
        "pt": ("{town}: Previsão vulcânica", "Fique atento às próximas informações."),
    },
    "rain_record": {
        "ja-x-easy": ("{town}の ちかくで とても つよい あめ", "がけくずれや みずが あふれることに ちゅういして ください。"),
        "zh-Hans": ("{town}附近出现记录性短时强降雨", "请警惕泥石流和浸水。"),
        "zh-Hant": ("{town}附近出現記錄性短時強降雨", "請警惕土石流和淹水。"),
        "ko": ("{town} 부근 기록적 단시간 폭우", "토사재해와 침수에 경계하십시오."),
        "vi": ("Mưa lớn kỷ lục trong thời gian ngắn gần {town}", "Hãy cảnh giác với sạt lở đất và ngập lụt."),
        "pt": ("Chuva recorde em pouco tempo perto de {town}", "Cuidado com deslizamentos e inundações."),
    },
    "flood": {
        "ja-x-easy": ("{town}で かわの みずが ふえて います", "かわに ちかづかないで ください。ひなんの じゅんびを して ください。"),
        "zh-Hans": ("{town}：河流洪水预报", "请远离河流，做好避难准备。"),
        "zh-Hant": ("{town}：河川洪水預報", "請遠離河川，做好避難準備。"),
        "ko": ("{town}: 하천 홍수 예보", "하천에 가까이 가지 말고 대피를 준비하십시오."),
        "vi": ("{town}: Dự báo lũ sông", "Tránh xa sông và chuẩn bị sơ tán."),
        "pt": ("{town}: Previsão de cheia de rio", "Afaste-se dos rios e prepare-se para evacuar."),
    },
    # a 取消 or a lifting: the people who were told get a short all-clear of the same event
    "withdrawn": {
        "ja-x-easy": ("さきほどの じょうほうは とりけしに なりました", ""),
        "zh-Hans": ("此前发送的信息已被取消", ""), "zh-Hant": ("此前發送的資訊已被取消", ""),
        "ko": ("앞서 보낸 정보는 취소되었습니다", ""), "vi": ("Thông tin gửi trước đó đã bị hủy", ""),
        "pt": ("A informação enviada anteriormente foi cancelada", ""),
    },
    "lifted": {
        "ja-x-easy": ("{town}の けいほう・ちゅういほうは おわりました", ""),
        "zh-Hans": ("{town}的警报和注意报已解除", ""), "zh-Hant": ("{town}的警報和注意報已解除", ""),
        "ko": ("{town}의 경보·주의보가 해제되었습니다", ""), "vi": ("Cảnh báo tại {town} đã được dỡ bỏ", ""),
        "pt": ("Os alertas para {town} foram suspensos", ""),
    },
}


def intensity_label(value: str, lang: str) -> str:
    """JMA's '5-' / '6+' in ``lang`` (5弱 → 5약, 5 yếu, 5 inferior …)."""
    marks = _INT[lang]
    return value[:-1] + marks[value[-1]] if value[-1:] in marks else value


def resident_texts(kind: str, town_ja: str, town_en: str, intensity: str = "") -> dict[str, tuple[str, str]]:
    """{language: (headline, instruction)} for the plan kind; empty for a kind without texts (the reader then
    gets Japanese, as before)."""
    out = {}
    for lang, (headline, instruction) in TEXTS.get(kind, {}).items():
        values = {"town": town_ja if lang in KANJI_NAME else town_en, "int": intensity_label(intensity, lang)}
        out[lang] = (headline.format(**values), instruction.format(**values))
    return out
