"""Conversations that call tools (OpenAI format). Dates are set by the system prompt."""

from .dsl import ALL_TOOLS, SYS_DATE, T

TUE = SYS_DATE("2026-11-10", "Tuesday")
WED = SYS_DATE("2026-11-11", "Wednesday")
THU = SYS_DATE("2026-11-12", "Thursday")

# (key, items, extra declared tools)
TOOL_CONVS = [
    # --- English ---------------------------------------------------------------------------
    (
        "en_weather_seoul",
        [
            "What's the weather like in Seoul right now?",
            T(
                "get_weather",
                {"city": "Seoul"},
                {
                    "city": "Seoul",
                    "temp_c": 3,
                    "condition": "clear",
                    "high_c": 8,
                    "low_c": -1,
                    "precip_prob": 0,
                },
            ),
            "It's 3°C and clear in Seoul right now, with a high of 8°C and a low of -1°C today. No rain "
            "expected, but it's cold, so take a warm coat.",
        ],
        [],
    ),
    (
        "en_umbrella_busan",
        [
            TUE,
            "Will I need an umbrella in Busan tomorrow?",
            T(
                "get_weather",
                {"city": "Busan", "date": "2026-11-11"},
                {
                    "city": "Busan",
                    "date": "2026-11-11",
                    "condition": "rain",
                    "high_c": 15,
                    "low_c": 10,
                    "precip_prob": 80,
                },
            ),
            "Yes, take one. Busan has an 80% chance of rain tomorrow, with temperatures between 10 and "
            "15°C.",
        ],
        ["list_calendar_events"],
    ),
    (
        "en_calendar_tomorrow",
        [
            WED,
            "What's on my calendar tomorrow?",
            T(
                "list_calendar_events",
                {"date": "2026-11-12"},
                {
                    "date": "2026-11-12",
                    "events": [
                        {
                            "title": "Team stand-up",
                            "start": "2026-11-12T09:30:00+09:00",
                            "end": "2026-11-12T09:45:00+09:00",
                        },
                        {
                            "title": "Design review",
                            "start": "2026-11-12T14:00:00+09:00",
                            "end": "2026-11-12T15:00:00+09:00",
                        },
                    ],
                },
            ),
            "Tomorrow (Thursday) you have two things:\n- 9:30–9:45 Team stand-up\n"
            "- 14:00–15:00 Design review\nThe rest of the day is free.",
            "Add lunch with Jiwoo at 12:30.",
            T(
                "create_calendar_event",
                {
                    "title": "Lunch with Jiwoo",
                    "start": "2026-11-12T12:30:00+09:00",
                    "end": "2026-11-12T13:30:00+09:00",
                },
                {"status": "created", "id": "evt_3021"},
            ),
            "Done. Lunch with Jiwoo is in your calendar tomorrow from 12:30 to 13:30, which still leaves "
            "half an hour before the design review.",
        ],
        [],
    ),
    (
        "en_remind_mom",
        [
            TUE,
            "Remind me to call mom at 7pm.",
            T(
                "set_reminder",
                {"text": "Call mom", "time": "2026-11-10T19:00:00+09:00"},
                {"status": "scheduled", "id": "rem_118"},
            ),
            "Okay, I'll remind you to call your mom today at 7pm.",
        ],
        [],
    ),
    (
        "en_dentist_next_thursday",
        [
            TUE,
            "Book a dentist appointment for next Thursday at 3pm.",
            "Just to be sure: do you mean this Thursday, November 12, or Thursday, November 19?",
            "The 19th.",
            T(
                "create_calendar_event",
                {
                    "title": "Dentist appointment",
                    "start": "2026-11-19T15:00:00+09:00",
                    "end": "2026-11-19T16:00:00+09:00",
                },
                {"status": "created", "id": "evt_3044"},
            ),
            "Booked: dentist appointment on Thursday, November 19, from 3pm to 4pm. Want a reminder the "
            "day before?",
            "Yes, at 8pm.",
            T(
                "set_reminder",
                {"text": "Dentist tomorrow at 3pm", "time": "2026-11-18T20:00:00+09:00"},
                {"status": "scheduled", "id": "rem_131"},
            ),
            "Set. You'll get a reminder on Wednesday, November 18, at 8pm.",
        ],
        [],
    ),
    (
        "en_museum_hours",
        [
            "Can you look up the opening hours of the National Museum of Korea?",
            T(
                "web_search",
                {"query": "National Museum of Korea opening hours"},
                {
                    "results": [
                        {
                            "title": "Visitor information | National Museum of Korea",
                            "snippet": "Open 10:00-18:00; Wednesdays and Saturdays until 21:00. Last "
                            "admission 30 minutes before closing. Closed on January 1, "
                            "Seollal and Chuseok.",
                        }
                    ]
                },
            ),
            "The National Museum of Korea is open 10:00 to 18:00, and until 21:00 on Wednesdays and "
            "Saturdays. Last entry is 30 minutes before closing. It's closed on January 1, Seollal and "
            "Chuseok.",
        ],
        ["get_weather"],
    ),
    (
        "en_tokyo_weekend",
        [
            WED,
            "What's the weather in Tokyo this weekend?",
            T(
                "get_weather",
                {"city": "Tokyo", "date": "2026-11-14"},
                {
                    "city": "Tokyo",
                    "date": "2026-11-14",
                    "condition": "partly cloudy",
                    "high_c": 16,
                    "low_c": 9,
                    "precip_prob": 10,
                },
            ),
            T(
                "get_weather",
                {"city": "Tokyo", "date": "2026-11-15"},
                {
                    "city": "Tokyo",
                    "date": "2026-11-15",
                    "condition": "rain",
                    "high_c": 13,
                    "low_c": 10,
                    "precip_prob": 70,
                },
            ),
            "Saturday looks good in Tokyo: partly cloudy, 9–16°C. Sunday turns wet, with a 70% chance of "
            "rain and 10–13°C, so plan outdoor things for Saturday.",
        ],
        [],
    ),
    (
        "en_friday_gym",
        [
            WED,
            "Do I have anything on Friday afternoon?",
            T(
                "list_calendar_events",
                {"date": "2026-11-13"},
                {
                    "date": "2026-11-13",
                    "events": [
                        {
                            "title": "1:1 with Hana",
                            "start": "2026-11-13T13:00:00+09:00",
                            "end": "2026-11-13T13:30:00+09:00",
                        }
                    ],
                },
            ),
            "Only a 1:1 with Hana from 1:00 to 1:30pm. After that you're free.",
            "Then block 5 to 6pm for the gym.",
            T(
                "create_calendar_event",
                {
                    "title": "Gym",
                    "start": "2026-11-13T17:00:00+09:00",
                    "end": "2026-11-13T18:00:00+09:00",
                },
                {"status": "created", "id": "evt_3050"},
            ),
            "Done: Gym on Friday from 5 to 6pm.",
        ],
        [],
    ),
    (
        "en_banana_bread",
        [
            "Find me a recipe for vegan banana bread.",
            T(
                "web_search",
                {"query": "easy vegan banana bread recipe"},
                {
                    "results": [
                        {
                            "title": "Easy Vegan Banana Bread",
                            "snippet": "3 ripe bananas, 1/3 cup melted coconut oil, 1/2 cup brown sugar, "
                            "1 tsp baking soda, 1 tsp vanilla, 1 1/2 cups flour, pinch of "
                            "salt. Bake at 175°C for 50-55 minutes.",
                        }
                    ]
                },
            ),
            "Here's a simple one:\n- 3 ripe bananas, mashed\n- 1/3 cup melted coconut oil\n"
            "- 1/2 cup brown sugar\n- 1 tsp baking soda, 1 tsp vanilla, a pinch of salt\n"
            "- 1 1/2 cups flour\nMix the wet ingredients, stir in the dry ones until just combined, and "
            "bake in a lined loaf tin at 175°C for 50 to 55 minutes.",
        ],
        [],
    ),
    (
        "en_jacket_reminder",
        [
            TUE,
            "Check tomorrow's weather in Seoul and remind me to bring a jacket if it's cold.",
            T(
                "get_weather",
                {"city": "Seoul", "date": "2026-11-11"},
                {
                    "city": "Seoul",
                    "date": "2026-11-11",
                    "condition": "clear",
                    "high_c": 6,
                    "low_c": -2,
                    "precip_prob": 0,
                },
            ),
            T(
                "set_reminder",
                {
                    "text": "Bring a warm jacket (low of -2°C today)",
                    "time": "2026-11-11T07:30:00+09:00",
                },
                {"status": "scheduled", "id": "rem_140"},
            ),
            "It'll be cold tomorrow: -2°C in the morning and only 6°C at best. I've set a reminder for "
            "7:30am to bring a warm jacket.",
        ],
        [],
    ),
    (
        "en_expense_reminder",
        [
            WED,
            "Remind me on Friday at 10am to submit the expense report.",
            T(
                "set_reminder",
                {"text": "Submit the expense report", "time": "2026-11-13T10:00:00+09:00"},
                {"status": "scheduled", "id": "rem_152"},
            ),
            "Got it. I'll remind you on Friday, November 13, at 10am to submit the expense report.",
        ],
        ALL_TOOLS,
    ),
    (
        "en_retro_event",
        [
            "Create an event: team retro on November 20, 4 to 5pm.",
            T(
                "create_calendar_event",
                {
                    "title": "Team retro",
                    "start": "2026-11-20T16:00:00+09:00",
                    "end": "2026-11-20T17:00:00+09:00",
                },
                {"status": "created", "id": "evt_3077"},
            ),
            'Added "Team retro" on Friday, November 20, from 4 to 5pm.',
        ],
        [],
    ),
    (
        "en_calendar_today_empty",
        [
            THU,
            "Anything on my calendar today?",
            T("list_calendar_events", {"date": "2026-11-12"}, {"date": "2026-11-12", "events": []}),
            "Nothing at all today. A rare free day, good time for deep work or an early finish.",
        ],
        [],
    ),
    (
        "en_ktx_search",
        [
            "Search how long the KTX takes from Seoul to Gangneung.",
            T(
                "web_search",
                {"query": "KTX Seoul to Gangneung travel time"},
                {
                    "results": [
                        {
                            "title": "Gangneung Line KTX timetable",
                            "snippet": "Seoul Station to Gangneung Station: about 1 hour 50 minutes to "
                            "2 hours depending on stops. Trains also depart from Cheongnyangni.",
                        }
                    ]
                },
            ),
            "The KTX from Seoul Station to Gangneung takes about 1 hour 50 minutes to 2 hours, depending "
            "on the stops. You can also catch it from Cheongnyangni.",
        ],
        [],
    ),
    (
        "en_sapporo_snow",
        [
            TUE,
            "Is it going to snow in Sapporo on December 5?",
            T(
                "get_weather",
                {"city": "Sapporo", "date": "2026-12-05"},
                {"error": "Forecast only available up to 10 days ahead."},
            ),
            "I can't get a forecast that far out; it only goes 10 days ahead. Historically, Sapporo in "
            "early December is around freezing and snow is common, so pack for it. I can check again "
            "closer to the date.",
        ],
        [],
    ),
    (
        "en_rent_reminder",
        [
            TUE,
            "Add a reminder to pay rent on the 25th at 9am.",
            T(
                "set_reminder",
                {"text": "Pay rent", "time": "2026-11-25T09:00:00+09:00"},
                {"status": "scheduled", "id": "rem_160"},
            ),
            "Done. You'll be reminded to pay rent on Wednesday, November 25, at 9am.",
            "Can you make it repeat every month?",
            "The reminder tool I have can't repeat, so for now it's a one-off. I can set December's when "
            "this one fires, or you can make it recurring in your phone's reminders app.",
        ],
        [],
    ),
    (
        "en_seoul_population",
        [
            "Search for the current population of Seoul.",
            T(
                "web_search",
                {"query": "Seoul population"},
                {
                    "results": [
                        {
                            "title": "Seoul - population statistics",
                            "snippet": "Seoul had about 9.3 million registered residents in 2025, down "
                            "from a peak of over 10 million in the early 1990s.",
                        }
                    ]
                },
            ),
            "Seoul has about 9.3 million registered residents (2025 figure). That's down from a peak of "
            "over 10 million in the early 1990s, as many people moved to surrounding Gyeonggi Province.",
        ],
        [],
    ),
    # --- Korean ----------------------------------------------------------------------------
    (
        "ko_weather_today",
        [
            "오늘 서울 날씨 어때?",
            T(
                "get_weather",
                {"city": "Seoul"},
                {
                    "city": "Seoul",
                    "temp_c": 11,
                    "condition": "cloudy",
                    "high_c": 14,
                    "low_c": 6,
                    "precip_prob": 20,
                },
            ),
            "지금 서울은 11도에 흐려요. 낮 최고 14도, 최저 6도이고 비 올 확률은 20%라 우산은 없어도 될 것 "
            "같아요. 아침저녁으로 쌀쌀하니 겉옷 챙기세요.",
        ],
        [],
    ),
    (
        "ko_busan_rain",
        [
            TUE,
            "내일 부산에 비 와?",
            T(
                "get_weather",
                {"city": "Busan", "date": "2026-11-11"},
                {
                    "city": "Busan",
                    "date": "2026-11-11",
                    "condition": "rain",
                    "high_c": 15,
                    "low_c": 10,
                    "precip_prob": 80,
                },
            ),
            "네, 내일 부산은 비 올 확률이 80%예요. 기온은 10~15도 정도라 우산이랑 얇은 겉옷 챙기세요.",
        ],
        [],
    ),
    (
        "ko_schedule_tomorrow",
        [
            WED,
            "내일 일정 뭐 있어?",
            T(
                "list_calendar_events",
                {"date": "2026-11-12"},
                {
                    "date": "2026-11-12",
                    "events": [
                        {
                            "title": "주간 회의",
                            "start": "2026-11-12T10:00:00+09:00",
                            "end": "2026-11-12T11:00:00+09:00",
                        },
                        {
                            "title": "치과",
                            "start": "2026-11-12T18:30:00+09:00",
                            "end": "2026-11-12T19:00:00+09:00",
                        },
                    ],
                },
            ),
            "내일(목요일)은 일정이 두 개 있어요.\n- 10:00~11:00 주간 회의\n- 18:30~19:00 치과\n"
            "치과가 퇴근 시간대라 조금 일찍 나서는 게 좋겠어요.",
        ],
        [],
    ),
    (
        "ko_medicine_reminder",
        [
            TUE,
            "저녁 8시에 약 먹으라고 알려줘.",
            T(
                "set_reminder",
                {"text": "약 먹기", "time": "2026-11-10T20:00:00+09:00"},
                {"status": "scheduled", "id": "rem_201"},
            ),
            "알겠어요. 오늘 저녁 8시에 약 드시라고 알려 드릴게요.",
        ],
        [],
    ),
    (
        "ko_team_meeting",
        [
            TUE,
            "다음 주 월요일 오전 10시에 팀 회의 잡아 줘. 한 시간.",
            T(
                "create_calendar_event",
                {
                    "title": "팀 회의",
                    "start": "2026-11-16T10:00:00+09:00",
                    "end": "2026-11-16T11:00:00+09:00",
                },
                {"status": "created", "id": "evt_4102"},
            ),
            "11월 16일 월요일 오전 10시부터 11시까지 팀 회의를 캘린더에 넣었어요.",
        ],
        ["list_calendar_events"],
    ),
    (
        "ko_gangnam_food",
        [
            "강남역 근처 점심 맛집 좀 찾아 줘.",
            T(
                "web_search",
                {"query": "강남역 점심 맛집"},
                {
                    "results": [
                        {
                            "title": "강남역 점심 추천 리스트",
                            "snippet": "칼국수, 돈가스, 쌀국수 등 1만 원대 점심 메뉴가 "
                            "많은 11번 출구 먹자골목이 인기.",
                        },
                        {
                            "title": "강남역 혼밥 맛집",
                            "snippet": "혼자 먹기 좋은 라멘집과 덮밥집은 대기가 짧은 "
                            "11시 30분 이전 방문 추천.",
                        },
                    ]
                },
            ),
            "검색해 보니 강남역 11번 출구 쪽 먹자골목에 칼국수, 돈가스, 쌀국수처럼 1만 원대 점심 메뉴가 많아요. "
            "혼자 드실 거면 라멘집이나 덮밥집이 좋고, 점심시간엔 붐비니 11시 30분 전에 가면 덜 기다려요.",
        ],
        [],
    ),
    (
        "ko_friday_dinner",
        [
            WED,
            "이번 주 금요일 저녁에 일정 있는지 보고, 비어 있으면 6시에 저녁 약속 넣어 줘.",
            T(
                "list_calendar_events",
                {"date": "2026-11-13"},
                {
                    "date": "2026-11-13",
                    "events": [
                        {
                            "title": "프로젝트 점검",
                            "start": "2026-11-13T15:00:00+09:00",
                            "end": "2026-11-13T16:00:00+09:00",
                        }
                    ],
                },
            ),
            T(
                "create_calendar_event",
                {
                    "title": "저녁 약속",
                    "start": "2026-11-13T18:00:00+09:00",
                    "end": "2026-11-13T20:00:00+09:00",
                },
                {"status": "created", "id": "evt_4110"},
            ),
            "금요일은 오후 3시 프로젝트 점검 말고는 저녁이 비어 있어서, 6시부터 8시까지 저녁 약속을 넣어 "
            "뒀어요. 누구와 만나는지 제목에 추가할까요?",
            "응, 수진이랑이라고 해 줘.",
            '지금 쓸 수 있는 도구로는 이미 만든 일정을 고칠 수가 없어요. 캘린더 앱에서 제목을 "수진이랑 '
            '저녁"으로 바꿔 주시거나, 원하시면 같은 시간에 새 일정을 하나 더 만들어 드릴게요.',
        ],
        [],
    ),
    (
        "ko_jeju_weather",
        [
            TUE,
            "모레 제주 날씨 알려줘.",
            T(
                "get_weather",
                {"city": "Jeju", "date": "2026-11-12"},
                {
                    "city": "Jeju",
                    "date": "2026-11-12",
                    "condition": "sunny",
                    "high_c": 18,
                    "low_c": 12,
                    "precip_prob": 0,
                    "wind_mps": 7,
                },
            ),
            "모레(11월 12일 목요일) 제주는 맑고 12~18도예요. 비 소식은 없는데 바람이 초속 7m 정도로 꽤 부니 "
            "바람막이 하나 챙기세요.",
        ],
        [],
    ),
    (
        "ko_laundry",
        [
            SYS_DATE("2026-11-10", "Tuesday", "14:20"),
            "30분 뒤에 빨래 꺼내라고 알려줘.",
            T(
                "set_reminder",
                {"text": "세탁기에서 빨래 꺼내기", "time": "2026-11-10T14:50:00+09:00"},
                {"status": "scheduled", "id": "rem_215"},
            ),
            "오후 2시 50분에 빨래 꺼내라고 알려 드릴게요.",
        ],
        [],
    ),
    (
        "ko_wedding",
        [
            "11월 28일 토요일에 친구 결혼식 일정 추가해 줘. 낮 12시 반이야.",
            T(
                "create_calendar_event",
                {
                    "title": "친구 결혼식",
                    "start": "2026-11-28T12:30:00+09:00",
                    "end": "2026-11-28T14:30:00+09:00",
                },
                {"status": "created", "id": "evt_4133"},
            ),
            "11월 28일 토요일 12시 30분에 친구 결혼식 일정을 넣었어요. 식사까지 생각해서 두 시간으로 잡아 "
            "뒀어요.",
        ],
        ALL_TOOLS,
    ),
    (
        "ko_museum_closed",
        [
            "국립중앙박물관 휴관일 검색해 줘.",
            T(
                "web_search",
                {"query": "국립중앙박물관 휴관일"},
                {
                    "results": [
                        {
                            "title": "국립중앙박물관 관람 안내",
                            "snippet": "휴관일: 1월 1일, 설날 당일, 추석 당일. 관람 시간 10:00~18:00, "
                            "수·토요일은 21:00까지.",
                        }
                    ]
                },
            ),
            "국립중앙박물관은 1월 1일, 설날 당일, 추석 당일에만 쉬어요. 평소에는 10시부터 6시까지 열고, 수요일과 "
            "토요일은 밤 9시까지 운영해요.",
        ],
        [],
    ),
    (
        "ko_gapyeong_camping",
        [
            WED,
            "이번 주말에 가평으로 캠핑 가는데 날씨 어때?",
            T(
                "get_weather",
                {"city": "Gapyeong", "date": "2026-11-14"},
                {
                    "city": "Gapyeong",
                    "date": "2026-11-14",
                    "condition": "clear",
                    "high_c": 10,
                    "low_c": -3,
                    "precip_prob": 0,
                },
            ),
            T(
                "get_weather",
                {"city": "Gapyeong", "date": "2026-11-15"},
                {
                    "city": "Gapyeong",
                    "date": "2026-11-15",
                    "condition": "cloudy",
                    "high_c": 9,
                    "low_c": -1,
                    "precip_prob": 30,
                },
            ),
            "토요일은 맑지만 밤 기온이 영하 3도까지 내려가고, 일요일은 흐리고 비 올 확률이 30%예요. 낮에는 "
            "괜찮은데 밤이 꽤 추우니 동계용 침낭이나 전기요는 꼭 챙기세요.",
        ],
        [],
    ),
    (
        "ko_meeting_alarm",
        [
            THU,
            "오늘 일정 알려 주고, 3시 회의 10분 전에 알림 맞춰 줘.",
            T(
                "list_calendar_events",
                {"date": "2026-11-12"},
                {
                    "date": "2026-11-12",
                    "events": [
                        {
                            "title": "고객사 미팅",
                            "start": "2026-11-12T11:00:00+09:00",
                            "end": "2026-11-12T12:00:00+09:00",
                        },
                        {
                            "title": "예산 회의",
                            "start": "2026-11-12T15:00:00+09:00",
                            "end": "2026-11-12T16:00:00+09:00",
                        },
                    ],
                },
            ),
            T(
                "set_reminder",
                {"text": "10분 뒤 예산 회의", "time": "2026-11-12T14:50:00+09:00"},
                {"status": "scheduled", "id": "rem_230"},
            ),
            "오늘은 11시 고객사 미팅, 3시 예산 회의가 있어요. 예산 회의 10분 전인 2시 50분에 알림 맞춰 뒀어요.",
        ],
        [],
    ),
    (
        "ko_tokyo_now",
        [
            "도쿄 지금 날씨 어때? 다음 주에 출장 가거든.",
            T(
                "get_weather",
                {"city": "Tokyo"},
                {
                    "city": "Tokyo",
                    "temp_c": 14,
                    "condition": "sunny",
                    "high_c": 17,
                    "low_c": 9,
                    "precip_prob": 0,
                },
            ),
            "지금 도쿄는 맑고 14도예요. 오늘 최고 17도, 최저 9도라 서울보다 조금 따뜻해요. 다음 주 날씨는 "
            "출발 며칠 전에 다시 확인해 드릴게요.",
        ],
        [],
    ),
    (
        "ko_dentist_ask_time",
        [
            TUE,
            "다음 달 3일에 치과 예약 넣어 줘.",
            "좋아요. 12월 3일 목요일 몇 시로 잡을까요?",
            "오후 2시.",
            T(
                "create_calendar_event",
                {
                    "title": "치과 예약",
                    "start": "2026-12-03T14:00:00+09:00",
                    "end": "2026-12-03T15:00:00+09:00",
                },
                {"status": "created", "id": "evt_4150"},
            ),
            "12월 3일 목요일 오후 2시에 치과 예약을 넣었어요.",
        ],
        [],
    ),
    (
        "ko_lora_search",
        [
            "'LoRA 파인튜닝' 검색해서 간단히 정리해 줘.",
            T(
                "web_search",
                {"query": "LoRA 파인튜닝 원리"},
                {
                    "results": [
                        {
                            "title": "LoRA: Low-Rank Adaptation 정리",
                            "snippet": "사전학습 가중치는 고정하고, 각 층에 작은 저랭크 행렬 두 개를 추가해 "
                            "그 부분만 학습. 학습 파라미터가 크게 줄어 적은 GPU 메모리로 미세조정 "
                            "가능. 어댑터 파일만 따로 저장·교체할 수 있음.",
                        }
                    ]
                },
            ),
            "LoRA는 원래 모델의 가중치는 그대로 두고, 각 층에 작은 저랭크 행렬 두 개만 붙여서 그 부분만 학습하는 "
            "방법이에요. 학습할 파라미터가 크게 줄어서 GPU 메모리가 적어도 미세조정할 수 있고, 결과물이 작은 "
            "어댑터 파일이라 버전별로 바꿔 끼우기 쉬워요. 저도 이 방식으로 학습돼요.",
        ],
        [],
    ),
    (
        "ko_wake_up",
        [
            TUE,
            "내일 아침 7시에 깨워 줘.",
            T(
                "set_reminder",
                {"text": "기상", "time": "2026-11-11T07:00:00+09:00"},
                {"status": "scheduled", "id": "rem_244"},
            ),
            "내일 아침 7시에 알림 맞춰 뒀어요. 푹 주무세요.",
        ],
        [],
    ),
    (
        "ko_weather_no_tool_needed",
        [
            "우산 말리는 제일 좋은 방법이 뭐야?",
            "펼친 채로 그늘에서 말리는 게 좋아요. 접어 두면 곰팡이와 녹이 생기기 쉽고, 직사광선은 방수 "
            "코팅을 상하게 할 수 있어요. 다 마르면 살을 정리해서 접어 두세요.",
        ],
        ["get_weather"],
    ),
]

# More tool conversations (issue 16): the eval needs tool-call items in the test split, and the
# split keeps at least `split.min_test_tool_items` of them there; these keep that a smaller share.
TOOL_CONVS += [
    (
        "en_jeju_weekend_weather",
        [
            THU,
            "I'm flying to Jeju on Saturday. What's the weather going to be like?",
            T(
                "get_weather",
                {"city": "Jeju", "date": "2026-11-14"},
                {
                    "city": "Jeju",
                    "date": "2026-11-14",
                    "condition": "windy, partly cloudy",
                    "high_c": 16,
                    "low_c": 11,
                    "precip_prob": 20,
                },
            ),
            "Saturday in Jeju looks partly cloudy and windy, 11 to 16°C, with only a 20% chance of "
            "rain. A windbreaker will do more for you than an umbrella.",
        ],
        [],
    ),
    (
        "en_pay_card_bill",
        [
            WED,
            "Set a reminder for Friday morning at 9 to pay the credit card bill.",
            T(
                "set_reminder",
                {"text": "Pay the credit card bill", "time": "2026-11-13T09:00:00+09:00"},
                {"status": "scheduled", "id": "rem_301"},
            ),
            "Set. On Friday, November 13, at 9:00 you'll get a reminder to pay the credit card bill.",
        ],
        [],
    ),
    (
        "en_one_on_one_hyejin",
        [
            TUE,
            "Put a 30-minute one-on-one with Hyejin on Wednesday at 4.",
            T(
                "create_calendar_event",
                {
                    "title": "1:1 with Hyejin",
                    "start": "2026-11-11T16:00:00+09:00",
                    "end": "2026-11-11T16:30:00+09:00",
                },
                {"status": "created", "id": "evt_3102"},
            ),
            "Booked: 1:1 with Hyejin tomorrow, Wednesday, 4:00 to 4:30pm.",
        ],
        [],
    ),
    (
        "en_passport_renewal_search",
        [
            "How long does it take to renew a Korean passport these days? Look it up.",
            T(
                "web_search",
                {"query": "Korean passport renewal processing time"},
                {
                    "results": [
                        {
                            "title": "Passport issuance guide",
                            "snippet": "Regular electronic passports are usually issued within 4 to 8 "
                            "working days of the application at a district office; online "
                            "applications for renewal are accepted for adults.",
                        }
                    ]
                },
            ),
            "Usually 4 to 8 working days after you apply at a district office, and adults can apply "
            "for a renewal online. If you have a trip coming up, apply at least two weeks ahead.",
        ],
        [],
    ),
    (
        "en_monday_free_slot",
        [
            THU,
            "Is Monday morning free? I want to book a haircut.",
            T(
                "list_calendar_events",
                {"date": "2026-11-16"},
                {
                    "date": "2026-11-16",
                    "events": [
                        {
                            "title": "Weekly planning",
                            "start": "2026-11-16T11:00:00+09:00",
                            "end": "2026-11-16T12:00:00+09:00",
                        }
                    ],
                },
            ),
            "Monday morning is open until 11, when weekly planning starts. Want me to put the haircut "
            "in at 9:30?",
            "Yes, 9:30 for an hour.",
            T(
                "create_calendar_event",
                {
                    "title": "Haircut",
                    "start": "2026-11-16T09:30:00+09:00",
                    "end": "2026-11-16T10:30:00+09:00",
                },
                {"status": "created", "id": "evt_3125"},
            ),
            "Haircut added for Monday 9:30 to 10:30, half an hour before weekly planning.",
        ],
        [],
    ),
    (
        "en_daegu_heat_check",
        [
            "Quick check: is it still warm in Daegu today?",
            T(
                "get_weather",
                {"city": "Daegu"},
                {
                    "city": "Daegu",
                    "temp_c": 12,
                    "condition": "cloudy",
                    "high_c": 14,
                    "low_c": 5,
                    "precip_prob": 10,
                },
            ),
            "Not really: it's 12°C and cloudy in Daegu, topping out at 14°C and dropping to 5°C "
            "tonight. Bring a jacket for the evening.",
        ],
        [],
    ),
    (
        "ko_gangneung_weekend",
        [
            THU,
            "토요일에 강릉 바다 보러 가려는데 날씨 괜찮을까?",
            T(
                "get_weather",
                {"city": "Gangneung", "date": "2026-11-14"},
                {
                    "city": "Gangneung",
                    "date": "2026-11-14",
                    "condition": "sunny",
                    "high_c": 13,
                    "low_c": 4,
                    "precip_prob": 0,
                },
            ),
            "토요일 강릉은 맑고 비 소식이 없어요. 낮 최고 13도, 아침 최저 4도라 바닷바람 생각해서 "
            "두꺼운 겉옷 챙기세요.",
        ],
        [],
    ),
    (
        "ko_gas_bill_reminder",
        [
            TUE,
            "모레 오후 6시에 가스비 내라고 알려 줘.",
            T(
                "set_reminder",
                {"text": "가스비 납부", "time": "2026-11-12T18:00:00+09:00"},
                {"status": "scheduled", "id": "rem_312"},
            ),
            "11월 12일 목요일 오후 6시에 가스비 납부 알림을 맞춰 뒀어요.",
        ],
        [],
    ),
    (
        "ko_parents_dinner",
        [
            WED,
            "이번 일요일 저녁 6시에 부모님이랑 저녁 식사 일정 넣어 줘. 두 시간 정도.",
            T(
                "create_calendar_event",
                {
                    "title": "부모님과 저녁 식사",
                    "start": "2026-11-15T18:00:00+09:00",
                    "end": "2026-11-15T20:00:00+09:00",
                },
                {"status": "created", "id": "evt_4188"},
            ),
            "11월 15일 일요일 저녁 6시부터 8시까지 '부모님과 저녁 식사'로 넣어 뒀어요.",
        ],
        [],
    ),
    (
        "ko_recycling_search",
        [
            "아이스팩은 어떻게 버려야 하는지 찾아봐 줄래?",
            T(
                "web_search",
                {"query": "아이스팩 버리는 방법"},
                {
                    "results": [
                        {
                            "title": "아이스팩 분리배출 안내",
                            "snippet": "고흡수성 수지가 든 아이스팩은 내용물을 하수구에 버리지 말고 "
                            "통째로 종량제 봉투에 배출. 물만 든 아이스팩은 물을 버리고 비닐류로 "
                            "분리배출. 일부 주민센터에서 재사용 수거함 운영.",
                        }
                    ]
                },
            ),
            "젤 타입(고흡수성 수지) 아이스팩은 뜯지 말고 통째로 종량제 봉투에 버리면 돼요. 물만 든 "
            "건 물을 따라 버리고 비닐류로 내놓으면 되고요. 동네 주민센터에 재사용 수거함이 있으면 "
            "거기 가져가는 게 제일 좋아요.",
        ],
        [],
    ),
    (
        "ko_friday_schedule_check",
        [
            WED,
            "금요일 일정 좀 보여 줘. 오후에 병원 갈 시간 있는지 보려고.",
            T(
                "list_calendar_events",
                {"date": "2026-11-13"},
                {
                    "date": "2026-11-13",
                    "events": [
                        {
                            "title": "분기 실적 발표 준비",
                            "start": "2026-11-13T10:00:00+09:00",
                            "end": "2026-11-13T12:00:00+09:00",
                        },
                        {
                            "title": "협력사 통화",
                            "start": "2026-11-13T16:30:00+09:00",
                            "end": "2026-11-13T17:00:00+09:00",
                        },
                    ],
                },
            ),
            "금요일은 오전 10시~12시 분기 실적 발표 준비, 오후 4시 반 협력사 통화가 있어요. 1시부터 "
            "4시 사이가 비어 있으니 병원은 그때 다녀오시면 돼요.",
            "그럼 2시에 병원 일정 넣어 줘.",
            T(
                "create_calendar_event",
                {
                    "title": "병원 진료",
                    "start": "2026-11-13T14:00:00+09:00",
                    "end": "2026-11-13T15:00:00+09:00",
                },
                {"status": "created", "id": "evt_4191"},
            ),
            "금요일 오후 2시~3시에 병원 진료 일정을 넣었어요. 협력사 통화 전까지 여유 있어요.",
        ],
        [],
    ),
    (
        "ko_incheon_airport_fog",
        [
            THU,
            "내일 아침 인천공항 쪽 안개 심하대? 7시 비행기라서.",
            T(
                "get_weather",
                {"city": "Incheon", "date": "2026-11-13"},
                {
                    "city": "Incheon",
                    "date": "2026-11-13",
                    "condition": "fog in the morning, then clear",
                    "high_c": 12,
                    "low_c": 3,
                    "precip_prob": 0,
                },
            ),
            "내일 아침 인천은 안개가 끼었다가 낮에 걷힐 예보예요. 이른 시간 항공편은 안개로 지연될 수 "
            "있으니 출발 전에 항공사 앱에서 운항 상태를 한 번 확인해 보세요.",
        ],
        [],
    ),
]
