// The live dashboard page (served by @tributary/server, see src/Dashboard.ts). Plain JavaScript, no build
// step: uPlot (the global `uPlot`) draws the charts, an EventSource receives the server's `update` events.
//
// Every value from the server reaches the DOM as text (textContent, element properties), never as HTML:
// dead-letter reasons, shard ids and chart titles come from user data.
"use strict";

(() => {
  const EVENTS_URL = "/v1/dashboard/events"
  const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#65a30d"]

  const $ = (selector) => document.querySelector(selector)

  // ---------------------------------------------------------------------------------------------------------
  // formatting

  const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })
  const oneDecimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })
  const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 })

  const formatCount = (value) => (typeof value === "number" && Number.isFinite(value) ? integer.format(value) : "–")
  const formatRate = (value) => {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–"
    return Math.abs(value) < 100 ? oneDecimal.format(value) : integer.format(value)
  }
  /** Chart values: whole numbers as they are, others with one decimal. */
  const formatValue = (value) => (Number.isInteger(value) ? integer.format(value) : formatRate(value))
  const formatLag = (ms) => {
    if (typeof ms !== "number" || !Number.isFinite(ms)) return "–"
    if (ms < 1000) return `${Math.round(ms)} ms`
    if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
    if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
    return `${(ms / 3_600_000).toFixed(1)} h`
  }
  const formatTime = (epochMillis) => new Date(epochMillis).toLocaleTimeString("en-GB")
  const formatMinute = (epochMillis) => new Date(epochMillis).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })

  // ---------------------------------------------------------------------------------------------------------
  // DOM helpers: text only

  const setText = (selector, text) => {
    const element = $(selector)
    if (element.textContent !== text) element.textContent = text
  }

  /**
   * A <tr> of cells: a string, or { text, className?, title?, tail? }. A `tail` cell that is too narrow
   * shows the end of its text (where sequence numbers differ) rather than the start.
   */
  const row = (cells) => {
    const tr = document.createElement("tr")
    for (const cell of cells) {
      const td = document.createElement("td")
      const spec = typeof cell === "string" ? { text: cell } : cell
      if (spec.tail) {
        const inner = document.createElement("span")
        inner.textContent = spec.text
        td.append(inner)
        td.classList.add("tail")
      } else {
        td.textContent = spec.text
      }
      if (spec.className) td.classList.add(...spec.className.split(" "))
      if (spec.title) td.title = spec.title
      tr.append(td)
    }
    return tr
  }

  const emptyRow = (columns, text) => {
    const tr = row([{ text, className: "empty" }])
    tr.firstChild.colSpan = columns
    return tr
  }

  // ---------------------------------------------------------------------------------------------------------
  // charts

  const axis = (values) => ({
    stroke: "#5b6472",
    grid: { stroke: "#edf0f4", width: 1 },
    ticks: { stroke: "#edf0f4", width: 1 },
    font: "11px system-ui, sans-serif",
    ...(values ? { values, size: 52 } : {})
  })

  /** The legend shows the hovered point, or the latest one when the cursor is elsewhere. */
  const legendValue = (format) => (plot, value, seriesIndex, index) => {
    if (index == null) {
      const column = plot.data[seriesIndex]
      for (let i = column.length - 1; i >= 0 && value == null; i--) value = column[i]
    }
    return value == null ? "–" : format(value)
  }

  /** A uPlot chart of time (x, seconds) against one line per label, filling `container` and following its width. */
  const makePlot = (container, labels, height, format) => {
    const options = {
      width: Math.max(container.clientWidth, 200),
      height,
      // counts and rates: the y axis starts at zero, so a small wobble does not look like a collapse
      scales: {
        x: { time: true },
        y: { range: (_, min, max) => uPlot.rangeNum(Math.min(0, min), Math.max(max, 1), 0.1, true) }
      },
      series: [
        { label: "time", value: legendValue((x) => formatTime(x * 1000)) },
        ...labels.map((label, i) => ({
          label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: true,
          // uPlot shows points only while they are sparse: a lone window stays visible
          points: { size: 7 },
          value: legendValue(format)
        }))
      ],
      axes: [
        // plain clock times: uPlot's default adds dates on a second line, which crowd a narrow chart
        axis((_, ticks, __, ___, increment) => ticks.map((t) => (increment >= 60 ? formatMinute(t * 1000) : formatTime(t * 1000)))),
        axis((_, ticks) => ticks.map((v) => compact.format(v)))
      ],
      cursor: { drag: { x: false, y: false, setScale: false } }
    }
    const plot = new uPlot(options, [[], ...labels.map(() => [])], container)
    const observer = new ResizeObserver(() => {
      const width = Math.max(container.clientWidth, 200)
      if (width !== plot.width) plot.setSize({ width, height })
    })
    observer.observe(container)
    return {
      plot,
      setData: (data) => {
        plot.setData(data)
        // one window so far: a minute either side, or uPlot squeezes it onto an axis a hair wide
        const xs = data[0]
        if (xs.length > 0 && xs[xs.length - 1] - xs[0] < 1) plot.setScale("x", { min: xs[0] - 60, max: xs[0] + 60 })
        plot.setLegend()
      },
      destroy: () => {
        observer.disconnect()
        plot.destroy()
      }
    }
  }

  /** Series with their own x values, joined on one sorted x axis (null where a series has no point). */
  const align = (series) => {
    const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b)
    const index = new Map(xs.map((x, i) => [x, i]))
    const columns = series.map((s) => {
      const column = new Array(xs.length).fill(null)
      for (const [x, y] of s.points) column[index.get(x)] = y
      return column
    })
    return [xs.map((x) => x / 1000), ...columns]
  }

  // ---------------------------------------------------------------------------------------------------------
  // state

  let history = []
  let updates = 0
  let ratesPlot
  /** Chart id -> { section, plot, labels } */
  const charts = new Map()

  const renderStats = (update) => {
    const totals = update.snapshot?.totals
    const rates = update.rates
    setText("#rate-in", formatRate(rates?.recordsIn))
    setText("#rate-out", formatRate(rates?.recordsOut))
    setText("#dead-letters-rate", formatRate(rates?.deadLetters))
    setText("#total-in", formatCount(totals?.recordsIn))
    setText("#total-out", formatCount(totals?.recordsOut))
    setText("#dead-letters", formatCount(totals?.deadLetters))
    setText("#filtered", formatCount(totals?.filtered))
    setText("#late", formatCount(totals?.late))
    $(".stat.bad").classList.toggle("alert", (totals?.deadLetters ?? 0) > 0)
  }

  const renderRates = (update) => {
    history = update.reset ? [...update.points] : history.concat(update.points)
    if (history.length > update.historyLimit) history = history.slice(history.length - update.historyLimit)
    ratesPlot ??= makePlot($("#rates-chart"), ["in", "out"], 220, formatRate)
    ratesPlot.setData([
      history.map((p) => p.at / 1000),
      history.map((p) => p.recordsIn),
      history.map((p) => p.recordsOut)
    ])
  }

  const renderShards = (shards) => {
    const sorted = [...shards].sort((a, b) => a.shardId.localeCompare(b.shardId, "en", { numeric: true }))
    const rows = sorted.map((shard) => {
      const lag = shard.lagMillis
      const processed = shard.processed ?? shard.checkpoint
      const held = shard.checkpointNote !== undefined && shard.checkpointNote !== null
      return row([
        { text: shard.shardId, className: "mono" },
        shard.owner === null ? { text: "unowned", className: "muted" } : shard.owner,
        { text: processed, className: "mono", title: processed, tail: true },
        {
          text: shard.checkpoint,
          className: held ? "mono held" : "mono",
          title: held ? `${shard.checkpoint}: ${shard.checkpointNote}` : shard.checkpoint,
          tail: true
        },
        { text: formatLag(lag), className: `num${lag >= 60_000 ? " lag-bad" : lag >= 5_000 ? " lag-warn" : ""}` }
      ])
    })
    $("#shards tbody").replaceChildren(...(rows.length > 0 ? rows : [emptyRow(5, "no shards")]))
    // why checkpoints are behind, once for all the shards it concerns
    const notes = [...new Set(sorted.flatMap((shard) => shard.checkpointNote ? [shard.checkpointNote] : []))]
    setText("#checkpoint-note", notes.length === 0 ? "" : `Checkpoints in italics are behind what was processed: ${notes.join("; ")}`)
    setText("#shard-count", `${shards.length}`)

    // leases per owner
    const counts = new Map()
    for (const shard of sorted) counts.set(shard.owner, (counts.get(shard.owner) ?? 0) + 1)
    // owners by name, nobody's shards last
    const byOwner = ([a], [b]) => (a === null ? 1 : 0) - (b === null ? 1 : 0) || String(a).localeCompare(String(b))
    const chips = [...counts].sort(byOwner).map(([owner, count]) => {
      const chip = document.createElement("span")
      chip.className = owner === null ? "chip unowned" : "chip"
      chip.dataset.owner = owner ?? ""
      const name = document.createElement("span")
      name.textContent = owner ?? "unowned"
      const number = document.createElement("b")
      number.textContent = String(count)
      chip.append(name, number)
      return chip
    })
    $("#owners").replaceChildren(...chips)
  }

  const renderDeadLetters = (deadLetters) => {
    const rows = [...deadLetters].sort((a, b) => b.failedAt - a.failedAt).map((dl) =>
      row([
        formatTime(dl.failedAt),
        { text: dl.shardId, className: "mono" },
        { text: dl.sequenceNumber, className: "mono", title: dl.sequenceNumber, tail: true },
        dl.stage,
        { text: dl.reason, className: "reason", title: dl.reason }
      ])
    )
    $("#recent-dead-letters tbody").replaceChildren(...(rows.length > 0 ? rows : [emptyRow(5, "none")]))
  }

  const renderCharts = (list) => {
    const container = $("#charts")
    const seen = new Set()
    for (const chart of list) {
      seen.add(chart.id)
      const labels = chart.series.map((s) => s.label)
      let entry = charts.get(chart.id)
      if (entry === undefined) {
        const section = document.createElement("section")
        section.className = "panel chart"
        section.dataset.chart = chart.id
        const heading = document.createElement("h2")
        const body = document.createElement("div")
        body.className = "plot"
        section.append(heading, body)
        container.append(section)
        entry = { section, heading, body, plot: undefined, labels: "" }
        charts.set(chart.id, entry)
      }
      const title = document.createElement("span")
      title.textContent = chart.title
      const unit = document.createElement("small")
      unit.textContent = chart.unit ?? ""
      entry.heading.replaceChildren(title, " ", unit)
      // a chart whose lines changed is drawn anew
      if (entry.plot === undefined || entry.labels !== JSON.stringify(labels)) {
        entry.plot?.destroy()
        entry.plot = makePlot(entry.body, labels, 200, formatValue)
        entry.labels = JSON.stringify(labels)
      }
      entry.plot.setData(align(chart.series))
    }
    for (const [id, entry] of charts) {
      if (seen.has(id)) continue
      entry.plot?.destroy()
      entry.section.remove()
      charts.delete(id)
    }
  }

  const renderSource = (update) => {
    const banner = $("#source-status")
    const source = update.source
    let message = ""
    if (!source.ok) {
      const since = source.failingSince === undefined ? "" : ` since ${formatTime(source.failingSince)}`
      message = `The snapshot source is failing${since}: ${source.error ?? "unknown error"}.` +
        (update.snapshot === null ? "" : " Showing the last good snapshot.")
    } else if (update.snapshot === null) {
      message = "Waiting for the first snapshot…"
    }
    banner.hidden = message === ""
    banner.className = source.ok ? "info" : "error"
    banner.textContent = message
    $("main").classList.toggle("stale", !source.ok)
  }

  const apply = (update) => {
    if (document.title !== update.title) {
      document.title = update.title
      setText("#title", update.title)
    }
    renderSource(update)
    renderStats(update)
    renderRates(update)
    if (update.snapshot !== null) {
      renderShards(update.snapshot.shards)
      renderDeadLetters(update.snapshot.deadLetters)
      renderCharts(update.snapshot.charts)
      setText("#updated-at", `snapshot ${formatTime(update.snapshot.at)}`)
    }
    updates += 1
    document.body.dataset.updates = String(updates)
  }

  // ---------------------------------------------------------------------------------------------------------
  // connection

  const setConnection = (state) => {
    const indicator = $("#connection")
    indicator.dataset.state = state
    indicator.lastElementChild.textContent = state
  }

  const connect = () => {
    setConnection("connecting")
    const source = new EventSource(EVENTS_URL)
    source.onopen = () => setConnection("live")
    source.addEventListener("update", (event) => {
      setConnection("live")
      try {
        apply(JSON.parse(event.data))
      } catch (error) {
        console.error("dashboard: cannot show an update", error)
      }
    })
    source.onerror = () => {
      setConnection("disconnected")
      // the browser retries by itself, unless the answer was not an event stream: then start over
      if (source.readyState === EventSource.CLOSED) {
        source.close()
        setTimeout(connect, 3000)
      }
    }
  }

  connect()
})()
