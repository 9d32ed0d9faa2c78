using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

// The dashboard with a large search (docs/BENCHMARKS.md): time to the search page's HTML and to its chart drawn with
// every point, server memory per open page, how far the page lags a burst of 1,000 candidate changes, and /metrics.
var candidates = Arg("--candidates", 10_000);
var pages = Arg("--pages", 5);
var chromium = Environment.GetEnvironmentVariable("SRMOBILE_CHROMIUM") ?? "/usr/bin/chromium";
const string Key = "bench-key";
var work = Directory.CreateTempSubdirectory("srmobile-dashboard-bench-");
var port = FreePort();
var baseUrl = $"http://127.0.0.1:{port}";
var samples = Path.Combine(AppContext.BaseDirectory, "samples", "train");

string Spec(string name, int count)
{
    // PTQ and QAT × depths (at most 50, the spec's bound) × up to 100 widths: 10,000 is 2 × 50 × 100.
    var widths = Math.Clamp(count / 100, 1, 100);
    var depths = Math.Clamp(count / (2 * widths), 1, 50);
    return $$"""
        name: {{name}}
        scales: [3]
        depths: [{{string.Join(", ", Enumerable.Range(1, depths))}}]
        widths: [{{string.Join(", ", Enumerable.Range(1, widths))}}]
        quantization: [{kind: ptq}, {kind: qat}]
        datasets: {train: "{{samples}}"}
        devices: [local]
        protocol: {input: 360x640}
        """;
}

File.WriteAllText(Path.Combine(work.FullName, "large.yaml"), Spec("large", candidates));
var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "srmobile.dll"), "search", "run", Path.Combine(work.FullName, "large.yaml"), "--workdir", Path.Combine(work.FullName, "state")])
{
    RedirectStandardError = true,
    RedirectStandardOutput = true,
    WorkingDirectory = work.FullName,
};
foreach (var (name, value) in new Dictionary<string, string>
{
    ["SrMobile__Simulate"] = "true",
    ["SrMobile__Limits__MaxCandidates"] = "200000",
    ["SrMobile__Trainer__Concurrency"] = "4",
    ["SrMobile__Device__Concurrency"] = "4",
    ["SrMobile__Trainer__PollInterval"] = "00:00:00.05",
    ["SrMobile__Device__PollInterval"] = "00:00:00.05",
    ["SrMobile__Http__Port"] = port.ToString(CultureInfo.InvariantCulture),
    ["SrMobile__Auth__ApiKeys__0"] = Key,
})
    start.Environment[name] = value;
using var server = Process.Start(start)!;
var serverLog = new System.Collections.Concurrent.ConcurrentQueue<string>();
server.ErrorDataReceived += (_, e) =>
{
    if (e.Data is { } line && !line.Contains('[', StringComparison.Ordinal))
        serverLog.Enqueue(line);
};
server.OutputDataReceived += (_, _) => { };
server.BeginErrorReadLine();
server.BeginOutputReadLine();
using var http = new HttpClient { BaseAddress = new Uri(baseUrl + "/"), Timeout = TimeSpan.FromMinutes(5) };
http.DefaultRequestHeaders.Add("X-Api-Key", Key);
try
{
    var clock = Stopwatch.StartNew();
    var grid = Spec("large", candidates).Split('\n');
    candidates = 2 * (grid[2].Count(c => c == ',') + 1) * (grid[3].Count(c => c == ',') + 1);
    await Until(async () => server.HasExited ? throw new InvalidOperationException("srmobile search run ended: " + string.Join(" | ", serverLog)) : await Done("large") >= candidates,
        TimeSpan.FromMinutes(30), "the large search to finish");
    Console.Error.WriteLine($"{candidates} simulated candidates done in {clock.Elapsed.TotalSeconds:F0} s");
    await Task.Delay(TimeSpan.FromSeconds(3));

    // The page's HTML, rendered on the server.
    var (htmlMs, htmlBytes) = await MedianGet("searches/large");

    using var playwright = await Playwright.CreateAsync();
    await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
    var measured = (await http.GetFromJsonAsync<JsonElement>("api/searches/large/pareto")).EnumerateArray().First().GetProperty("all").GetArrayLength();

    // Time to the chart with every measured point drawn, in a fresh page (the first, then 2 more: median).
    var chart = new List<double>();
    for (var i = 0; i < 3; i++)
    {
        var page = await browser.NewPageAsync();
        var watch = Stopwatch.StartNew();
        await page.GotoAsync($"{baseUrl}/searches/large");
        await Until(async () => await page.Locator("#pareto .scatterlayer path.point").CountAsync() >= measured, TimeSpan.FromMinutes(5), "every point drawn");
        chart.Add(watch.Elapsed.TotalMilliseconds);
        await page.CloseAsync();
    }

    // Server memory per open page: RSS with K more live pages (circuits) than before, after both settle.
    var rssBefore = Rss(server.Id);
    var open = new List<IPage>();
    for (var i = 0; i < pages; i++)
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"{baseUrl}/searches/large");
        await page.Locator("#pareto .main-svg").First.WaitForAsync();
        open.Add(page);
    }
    await Task.Delay(TimeSpan.FromSeconds(5));
    var rssPerPage = (Rss(server.Id) - rssBefore) / pages;
    foreach (var page in open)
        await page.CloseAsync();

    // A burst: a 1,000-candidate search submitted while its page is open; the lag is from the API saying all are done to the page saying so.
    var burstPage = await browser.NewPageAsync();
    await burstPage.GotoAsync($"{baseUrl}/searches/burst");
    await burstPage.Locator("main").WaitForAsync();
    await Task.Delay(TimeSpan.FromSeconds(2));
    var submitted = await http.PostAsync("api/searches", new StringContent(Spec("burst", 1000)));
    submitted.EnsureSuccessStatusCode();
    var burstClock = Stopwatch.StartNew();
    var apiDone = await Task.Run(async () =>
    {
        await Until(async () => await Done("burst") >= 1000, TimeSpan.FromMinutes(10), "the burst search to finish");
        return burstClock.Elapsed;
    });
    await Until(async () => (await burstPage.Locator("#counts").CountAsync()) > 0 && (await burstPage.Locator("#counts").TextContentAsync())!.Contains("done 1000,", StringComparison.Ordinal),
        TimeSpan.FromMinutes(2), "the page to show the burst done");
    var pageDone = burstClock.Elapsed;

    // /metrics at this scale.
    var (scrapeMs, scrapeBytes) = await MedianGet("metrics");

    Console.WriteLine(JsonSerializer.Serialize(new
    {
        benchmark = "dashboard",
        candidates,
        measured_points = measured,
        page_html_ms_median = htmlMs,
        page_html_bytes = htmlBytes,
        chart_all_points_ms = chart,
        server_rss_mb_per_open_page = rssPerPage / 1e6,
        pages_opened = pages,
        burst_candidates = 1000,
        burst_api_done_seconds = apiDone.TotalSeconds,
        burst_page_done_seconds = pageDone.TotalSeconds,
        burst_page_lag_ms = (pageDone - apiDone).TotalMilliseconds,
        metrics_scrape_ms_median = scrapeMs,
        metrics_scrape_bytes = scrapeBytes,
    }, new JsonSerializerOptions { WriteIndented = true }));
    return 0;
}
finally
{
    if (!server.HasExited)
        server.Kill(entireProcessTree: true);
    await server.WaitForExitAsync();
    work.Delete(recursive: true);
}

// The median time of 5 GETs of a path, and its size.
async Task<(double Milliseconds, long Bytes)> MedianGet(string path)
{
    var times = new List<double>();
    long bytes = 0;
    for (var i = 0; i < 5; i++)
    {
        var watch = Stopwatch.StartNew();
        bytes = (await http.GetByteArrayAsync(path)).Length;
        times.Add(watch.Elapsed.TotalMilliseconds);
    }
    return (Median(times), bytes);
}

async Task<int> Done(string search)
{
    try
    {
        var overview = await http.GetFromJsonAsync<JsonElement>($"api/searches/{search}");
        return overview.GetProperty("status").GetProperty("stages").TryGetProperty("done", out var done) ? done.GetInt32() : 0;
    }
    catch (HttpRequestException)
    {
        return 0;
    }
}

static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what)
{
    var watch = Stopwatch.StartNew();
    while (!await condition())
    {
        if (watch.Elapsed > timeout)
            throw new TimeoutException($"no {what} within {timeout.TotalSeconds:F0} s");
        await Task.Delay(50);
    }
}

static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

static long Rss(int pid) =>
    long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

int Arg(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}
