// Send events to mbuzz from Node 18+ (built-in fetch), retrying on 429/503.
//   MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... node send_events.mjs
import { randomUUID } from "node:crypto";

const API = process.env.MBUZZ_API_URL ?? "http://127.0.0.1:8000";
const KEY = process.env.MBUZZ_API_KEY;

async function send(events, attempts = 5) {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const response = await fetch(`${API}/api/v1/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ events }),
    });
    if (response.status === 202) return response.json();
    if (![429, 503].includes(response.status) || attempt === attempts - 1) {
      throw new Error(`${response.status}: ${await response.text()}`);
    }
    const wait = Number(response.headers.get("Retry-After") ?? "1");
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

const events = [
  {
    event_type: "page_view",
    visitor_id: "vis_js_example",
    event_id: randomUUID(),
    properties: {
      url: "https://shop.example.com/?utm_source=facebook&utm_medium=paid_social&fbclid=IwAR0",
      referrer: "https://l.facebook.com/",
      utm_source: "facebook",
      utm_medium: "paid_social",
      fbclid: "IwAR0",
    },
  },
  { event_type: "sql", visitor_id: "vis_js_example", user_id: "user_js_1", event_id: randomUUID() },
];

console.log(JSON.stringify(await send(events)));
