/**
 * One line of Apache's Common or Combined Log Format:
 * `host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status bytes` optionally followed by
 * ` "referer" "user agent"`.
 *
 * @internal
 */
import { SyntaxFailure } from "./SyntaxFailure.js"

/** @internal */
export interface ApacheLogEntry {
  readonly host: string
  readonly ident: string | null
  readonly user: string | null
  /** Epoch milliseconds, UTC */
  readonly time: number
  /** As written, e.g. "-0700" */
  readonly timeZone: string
  /** The quoted request line, `\"` and `\\` unescaped */
  readonly request: string
  readonly method: string | null
  readonly path: string | null
  readonly protocol: string | null
  readonly status: number
  readonly bytes: number | null
  readonly referer: string | null
  readonly userAgent: string | null
}

const LF = 10
const CR = 13
const SPACE = 32
const DQUOTE = 34
const DASH = 45
const SLASH = 47
const COLON = 58
const LBRACKET = 91
const BACKSLASH = 92
const RBRACKET = 93

const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"

/** @internal */
export const parseApacheLog = (text: string): ApacheLogEntry | SyntaxFailure => {
  let end = text.length
  if (end > 0 && text.charCodeAt(end - 1) === LF) {
    end--
    if (end > 0 && text.charCodeAt(end - 1) === CR) end--
  }

  const hostEnd = tokenEnd(text, 0, end)
  if (hostEnd === 0) return SyntaxFailure.at(text, 0, `expected the client host, found ${describeAt(text, 0, end)}`)
  let i = expectSpace(text, hostEnd, end, "host")
  if (typeof i !== "number") return i

  const identStart = i
  const identEnd = tokenEnd(text, i, end)
  if (identEnd === i) return SyntaxFailure.at(text, i, `expected ident or '-', found ${describeAt(text, i, end)}`)
  i = expectSpace(text, identEnd, end, "ident")
  if (typeof i !== "number") return i

  const userStart = i
  const userEnd = tokenEnd(text, i, end)
  if (userEnd === i) return SyntaxFailure.at(text, i, `expected user or '-', found ${describeAt(text, i, end)}`)
  i = expectSpace(text, userEnd, end, "user")
  if (typeof i !== "number") return i

  const time = parseTimestamp(text, i, end)
  if (time instanceof SyntaxFailure) return time
  i = expectSpace(text, time.end, end, "timestamp")
  if (typeof i !== "number") return i

  const request = parseQuoted(text, i, end, "request")
  if (request instanceof SyntaxFailure) return request
  i = expectSpace(text, request.end, end, "request")
  if (typeof i !== "number") return i

  const statusStart = i
  const statusEnd = tokenEnd(text, i, end)
  if (statusEnd - statusStart !== 3 || !allDigits(text, statusStart, statusEnd)) {
    return SyntaxFailure.at(text, statusStart, `status must be 3 digits, found '${clip(text.slice(statusStart, statusEnd))}'`)
  }
  const status = Number(text.slice(statusStart, statusEnd))
  i = expectSpace(text, statusEnd, end, "status")
  if (typeof i !== "number") return i

  const bytesStart = i
  const bytesEnd = tokenEnd(text, i, end)
  let bytes: number | null
  if (isDash(text, bytesStart, bytesEnd)) {
    bytes = null
  } else if (bytesEnd > bytesStart && bytesEnd - bytesStart <= 16 && allDigits(text, bytesStart, bytesEnd)) {
    bytes = Number(text.slice(bytesStart, bytesEnd))
    // Beyond 2^53 the count would silently lose precision.
    if (!Number.isSafeInteger(bytes)) {
      return SyntaxFailure.at(text, bytesStart, `byte count ${text.slice(bytesStart, bytesEnd)} is too large`)
    }
  } else {
    return SyntaxFailure.at(text, bytesStart, `expected a byte count or '-', found '${clip(text.slice(bytesStart, bytesEnd))}'`)
  }

  let referer: string | null = null
  let userAgent: string | null = null
  i = bytesEnd
  if (i < end) {
    i = expectSpace(text, i, end, "byte count")
    if (typeof i !== "number") return i
    const quotedReferer = parseQuoted(text, i, end, "referer")
    if (quotedReferer instanceof SyntaxFailure) return quotedReferer
    i = expectSpace(text, quotedReferer.end, end, "referer")
    if (typeof i !== "number") return i
    const quotedAgent = parseQuoted(text, i, end, "user agent")
    if (quotedAgent instanceof SyntaxFailure) return quotedAgent
    i = quotedAgent.end
    if (i < end) {
      return SyntaxFailure.at(text, i, `unexpected ${describeAt(text, i, end)} after the user agent; expected end of line`)
    }
    referer = quotedReferer.value === "-" ? null : quotedReferer.value
    userAgent = quotedAgent.value === "-" ? null : quotedAgent.value
  }

  const requestParts = splitRequest(request.value)
  return {
    host: text.slice(0, hostEnd),
    ident: isDash(text, identStart, identEnd) ? null : text.slice(identStart, identEnd),
    user: isDash(text, userStart, userEnd) ? null : text.slice(userStart, userEnd),
    time: time.epochMillis,
    timeZone: time.zone,
    request: request.value,
    method: requestParts === undefined ? null : requestParts[0],
    path: requestParts === undefined ? null : requestParts[1],
    protocol: requestParts === undefined ? null : requestParts[2],
    status,
    bytes,
    referer,
    userAgent
  }
}

interface Timestamp {
  readonly epochMillis: number
  readonly zone: string
  readonly end: number
}

/** `[10/Oct/2000:13:55:36 -0700]`: fixed width, so every part is checked at a known offset. */
const parseTimestamp = (text: string, start: number, end: number): Timestamp | SyntaxFailure => {
  if (start >= end || text.charCodeAt(start) !== LBRACKET) {
    return SyntaxFailure.at(text, start, `expected '[' starting the timestamp, found ${describeAt(text, start, end)}`)
  }
  const s = start + 1
  const day = twoDigits(text, s, end)
  if (day < 0) return SyntaxFailure.at(text, s, "expected a 2-digit day in the timestamp (dd/Mon/yyyy:HH:MM:SS +zzzz)")
  if (!charIs(text, s + 2, end, SLASH)) return SyntaxFailure.at(text, s + 2, "expected '/' after the day in the timestamp")
  const monthIndex = s + 3 + 3 <= end ? MONTHS.indexOf(text.slice(s + 3, s + 6)) : -1
  if (monthIndex < 0 || monthIndex % 3 !== 0) {
    return SyntaxFailure.at(text, s + 3, `unknown month '${text.slice(s + 3, Math.min(s + 6, end))}'; expected Jan..Dec`)
  }
  const month = monthIndex / 3 + 1
  if (!charIs(text, s + 6, end, SLASH)) return SyntaxFailure.at(text, s + 6, "expected '/' after the month in the timestamp")
  const yearHigh = twoDigits(text, s + 7, end)
  const yearLow = twoDigits(text, s + 9, end)
  if (yearHigh < 0 || yearLow < 0) return SyntaxFailure.at(text, s + 7, "expected a 4-digit year in the timestamp")
  const year = yearHigh * 100 + yearLow
  if (day < 1 || day > daysInMonth(year, month)) {
    return SyntaxFailure.at(text, s, `day ${day} is out of range for ${MONTHS.slice(monthIndex, monthIndex + 3)} ${year}`)
  }
  if (!charIs(text, s + 11, end, COLON)) return SyntaxFailure.at(text, s + 11, "expected ':' after the year in the timestamp")
  const hour = twoDigits(text, s + 12, end)
  if (hour < 0 || hour > 23) return SyntaxFailure.at(text, s + 12, "expected an hour 00-23 in the timestamp")
  if (!charIs(text, s + 14, end, COLON)) return SyntaxFailure.at(text, s + 14, "expected ':' after the hour in the timestamp")
  const minute = twoDigits(text, s + 15, end)
  if (minute < 0 || minute > 59) return SyntaxFailure.at(text, s + 15, "expected a minute 00-59 in the timestamp")
  if (!charIs(text, s + 17, end, COLON)) return SyntaxFailure.at(text, s + 17, "expected ':' after the minute in the timestamp")
  const second = twoDigits(text, s + 18, end)
  if (second < 0 || second > 59) return SyntaxFailure.at(text, s + 18, "expected a second 00-59 in the timestamp")
  if (!charIs(text, s + 20, end, SPACE)) return SyntaxFailure.at(text, s + 20, "expected ' ' before the time zone")
  const z = s + 21
  const sign = z < end ? text.charCodeAt(z) : 0
  const zoneHours = twoDigits(text, z + 1, end)
  const zoneMinutes = twoDigits(text, z + 3, end)
  if ((sign !== 43 && sign !== DASH) || zoneHours < 0 || zoneHours > 23 || zoneMinutes < 0 || zoneMinutes > 59) {
    return SyntaxFailure.at(text, z, "expected a time zone like -0700 ([+-]HHMM) in the timestamp")
  }
  if (!charIs(text, z + 5, end, RBRACKET)) return SyntaxFailure.at(text, z + 5, "expected ']' closing the timestamp")
  const offsetMinutes = (sign === DASH ? -1 : 1) * (zoneHours * 60 + zoneMinutes)
  const localSeconds = ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
  return {
    epochMillis: (localSeconds - offsetMinutes * 60) * 1000,
    zone: text.slice(z, z + 5),
    end: z + 6
  }
}

interface Quoted {
  readonly value: string
  readonly end: number
}

/** A `"..."` field where Apache escapes `"` and `\` with a backslash; other escapes (`\xhh`) are kept as written. */
const parseQuoted = (text: string, start: number, end: number, what: string): Quoted | SyntaxFailure => {
  if (start >= end || text.charCodeAt(start) !== DQUOTE) {
    return SyntaxFailure.at(text, start, `expected '"' starting the ${what}, found ${describeAt(text, start, end)}`)
  }
  let value = ""
  let segment = start + 1
  let i = segment
  while (i < end) {
    const c = text.charCodeAt(i)
    if (c === DQUOTE) return { value: value + text.slice(segment, i), end: i + 1 }
    if (c === LF || c === CR) break
    if (c === BACKSLASH && i + 1 < end) {
      const next = text.charCodeAt(i + 1)
      if (next === DQUOTE || next === BACKSLASH) {
        value += text.slice(segment, i)
        segment = i + 1
      }
      i += 2
    } else {
      i++
    }
  }
  return SyntaxFailure.at(text, start, `unterminated quoted ${what} starting`)
}

/** "GET /a HTTP/1.1" into its three parts; anything else (e.g. "-" or a garbled probe) is left whole. */
const splitRequest = (request: string): readonly [string, string, string] | undefined => {
  const first = request.indexOf(" ")
  if (first <= 0) return undefined
  const second = request.indexOf(" ", first + 1)
  if (second === -1 || second === first + 1 || second === request.length - 1) return undefined
  if (request.indexOf(" ", second + 1) !== -1) return undefined
  return [request.slice(0, first), request.slice(first + 1, second), request.slice(second + 1)]
}

const tokenEnd = (text: string, i: number, end: number): number => {
  while (i < end && text.charCodeAt(i) > SPACE) i++
  return i
}

const expectSpace = (text: string, i: number, end: number, after: string): number | SyntaxFailure =>
  charIs(text, i, end, SPACE)
    ? i + 1
    : SyntaxFailure.at(text, i, `expected ' ' after the ${after}, found ${describeAt(text, i, end)}`)

const charIs = (text: string, i: number, end: number, c: number): boolean => i < end && text.charCodeAt(i) === c

const isDash = (text: string, start: number, end: number): boolean =>
  end - start === 1 && text.charCodeAt(start) === DASH

const allDigits = (text: string, start: number, end: number): boolean => {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** 0-99, or -1 when the two characters at i are not both digits. */
const twoDigits = (text: string, i: number, end: number): number => {
  if (i + 2 > end) return -1
  const a = text.charCodeAt(i) - 48
  const b = text.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28)
    : month === 4 || month === 6 || month === 9 || month === 11
    ? 30
    : 31

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm); avoids Date.UTC's 0-99 year quirk. */
const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const monthFromMarch = (month + 9) % 12
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146097 + dayOfEra - 719468
}

const describeAt = (text: string, i: number, end: number): string => {
  if (i >= end) return "end of line"
  const c = text.charCodeAt(i)
  return c <= SPACE || c === 127 ? `U+${c.toString(16).toUpperCase().padStart(4, "0")}` : `'${text[i]}'`
}

const clip = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}…` : s)
