using System.Diagnostics;
using System.Net;
using Microsoft.Playwright;
using SrMobile.Tests;
using Xunit.Abstractions;

namespace SrMobile.Dashboard.Tests;

/// <summary>
/// The dashboard in a real Chromium (Debian's, through its executable path: nothing is downloaded) against the real
/// app: <c>srmobile search run</c> as its own process, training and measuring a small grid on the bundled photos.
/// </summary>
public sealed class SearchPageBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string ApiKey = "dashboard-test-key";
    private const int Candidates = 4;
    private readonly TemporaryFolder work = TestData.NewTemporaryFolder();
    private Process? app;
    private string baseUrl = "";
    private IPlaywright? playwright;
    private IBrowser? browser;

    public static string Chromium => Environment.GetEnvironmentVariable("SRMOBILE_CHROMIUM") ?? "/usr/bin/chromium";

    [Fact]
    public async Task The_search_page_shows_candidates_as_they_finish_hovers_them_and_guards_its_writes()
    {
        var page = await browser!.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        // The whole suite runs at once on 2 cores in CI: a page may take a while to load its scripts.
        page.SetDefaultTimeout(90_000);
        try
        {
            await Browse(page);
        }
        catch
        {
            // What the page showed when it went wrong, beside the test's output.
            Directory.CreateDirectory(Screenshots);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "failure.png"), FullPage = true });
            output.WriteLine($"failure screenshot: {Path.Combine(Screenshots, "failure.png")} at {page.Url}");
            throw;
        }
    }

    private async Task Browse(IPage page)
    {
        await page.GotoAsync($"{baseUrl}/searches/browser-grid");
        await page.Locator("#pareto .main-svg").First.WaitForAsync();
        var points = page.Locator("#pareto .scatterlayer path.point");
        var before = await points.CountAsync();
        Assert.True(before < Candidates, $"all {Candidates} candidates were done before the page opened; the live update is not tested");

        // A candidate finishing while the page is open appears without a reload, then all of them.
        await Until(async () => await points.CountAsync() > before, TimeSpan.FromMinutes(4), "a new point without a reload");
        await Until(async () => (await page.Locator("#counts").TextContentAsync())!.Contains($"done {Candidates},"), TimeSpan.FromMinutes(6), "every candidate done");
        await Until(async () => await points.CountAsync() == Candidates, TimeSpan.FromSeconds(10), "one point per finished candidate");
        var frontRows = await page.Locator("#pareto-front tbody tr").CountAsync();
        Assert.InRange(frontRows, 1, Candidates);
        Assert.Equal(frontRows, await page.Locator("#pareto .scatterlayer .trace").Last.Locator("path.point").CountAsync());
        Assert.Contains("front", await page.Locator("#pareto .legend").TextContentAsync());

        // Hovering a point on the front shows its candidate.
        var box = (await page.Locator("#pareto .scatterlayer .trace").Last.Locator("path.point").First.BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + (box.Width / 2), box.Y + (box.Height / 2));
        var hover = page.Locator("#pareto .hoverlayer .hovertext");
        await hover.First.WaitForAsync(new() { Timeout = 10_000 });
        var tip = await hover.First.TextContentAsync();
        Assert.Contains("parameters", tip);
        Assert.Contains("x3 m1 C", tip);
        Directory.CreateDirectory(Screenshots);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "search-page.png"), FullPage = true });
        output.WriteLine($"screenshot: {Path.Combine(Screenshots, "search-page.png")}");

        // A candidate's page: its training curves from the stored record, and its models to download.
        await page.Locator("#candidates tbody tr a").First.ClickAsync();
        await page.Locator("#training-curves .main-svg").First.WaitForAsync();
        Assert.True(int.Parse((await page.Locator("#training-curves").GetAttributeAsync("data-loss-points"))!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Contains("int8-onnx", await page.Locator("#downloads").TextContentAsync());
        Assert.Contains("float-checkpoint", await page.Locator("#downloads").TextContentAsync());
        Assert.Contains("int8-onnx-int8-activations", await page.Locator("#downloads").TextContentAsync());
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "int8-onnx", Exact = true }).ClickAsync());
        Assert.True(new FileInfo((await download.PathAsync())!).Length > 1000);
        await page.GoBackAsync();

        // Without a sign-in: no cancel button, the submit form asks for one, and the API refuses the write.
        Assert.Equal(0, await page.Locator("#cancel").CountAsync());
        // The devices page: the embedded device worker, its health and its canary's drift from its own first run.
        await page.GotoAsync($"{baseUrl}/devices");
        var worker = page.Locator("#workers tbody tr").First;
        await worker.WaitForAsync();
        Assert.Matches(@"^[+-]\d+\.\d %", (await worker.Locator("td.drift").TextContentAsync())!.Trim());
        Assert.Contains("baseline", await worker.Locator("td.canary").TextContentAsync());
        Assert.Contains("onnxruntime", await worker.Locator("td.canary").GetAttributeAsync("title"));
        await page.GotoAsync($"{baseUrl}/submit");
        await page.Locator("#sign-in-needed").WaitForAsync();
        using (var http = new HttpClient())
        {
            var refused = await http.PostAsync($"{baseUrl}/api/searches", new StringContent("name: sneaky\nscales: [3]"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.DoesNotContain("sneaky", await http.GetStringAsync($"{baseUrl}/api/searches"));
        }

        // A wrong key is refused; the right one signs in, and an invalid spec shows every error inline.
        await page.GotoAsync($"{baseUrl}/login?returnUrl=%2Fsubmit");
        await page.FillAsync("#key", "not-the-key");
        await page.ClickAsync("#sign-in");
        await page.Locator("#login-error").WaitForAsync();
        await page.FillAsync("#key", ApiKey);
        await page.ClickAsync("#sign-in");
        // Typed only once the page is live: text typed into the prerendered form would not reach the component.
        await page.Locator("#submit:not([disabled])").WaitForAsync();
        await page.FillAsync("#spec", "name: Bad Name!\nscales: [7]\ndepths: [0]\nwidths: [4]\ndevices: [local]\n");
        await page.ClickAsync("#submit");
        var errors = page.Locator("#spec-errors li");
        await errors.First.WaitForAsync();
        var text = string.Join("\n", await errors.AllTextContentsAsync());
        Assert.Contains("name", text);
        Assert.Contains("scales", text);
        Assert.Contains("depths", text);
        Assert.DoesNotContain("Bad Name!", await new HttpClient().GetStringAsync($"{baseUrl}/api/searches"));
    }

    private static string Screenshots => Path.Combine(AppContext.BaseDirectory, "screenshots");

    private static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > timeout)
                throw new TimeoutException($"no {what} within {timeout.TotalSeconds:F0} s");
            await Task.Delay(250);
        }
    }

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
            throw new InvalidOperationException($"{Chromium} is missing: apt-get install -y chromium (or set SRMOBILE_CHROMIUM)");
        var spec = work.File("spec.yaml");
        File.WriteAllText(spec, $$"""
            name: browser-grid
            scales: [3]
            depths: [1]
            widths: [4, 8, 12, 16]
            quantization: [{kind: ptq, calibration_images: 2}]
            training: {iterations: 40, batch_size: 4, patch_size: 24, lr: 2.0e-3}
            datasets: {train: "{{TestData.Samples}}", validation: "{{Path.Combine(TestData.RepositoryRoot, "samples", "test")}}"}
            devices: [local]
            protocol: {input: 36x64, warmup: 1, min_runs: 3, min_seconds: 0}
            """);
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "srmobile.dll"), "search", "run", spec,
            "--workdir", work.File("state"), "--threads", "1", "--data-root", TestData.RepositoryRoot])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = work.Path,
        };
        start.Environment["SrMobile__Http__Port"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["SrMobile__Auth__ApiKeys__0"] = ApiKey;
        app = Process.Start(start)!;
        var url = new TaskCompletionSource<string>();
        app.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("dashboard: ", StringComparison.Ordinal) == true)
                url.TrySetResult(e.Data["dashboard: ".Length..]);
        };
        app.OutputDataReceived += (_, _) => { };
        app.BeginErrorReadLine();
        app.BeginOutputReadLine();
        var searchUrl = await url.Task.WaitAsync(TimeSpan.FromMinutes(2));
        baseUrl = new Uri(searchUrl).GetLeftPart(UriPartial.Authority);
        playwright = await Playwright.CreateAsync();
        browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
    }

    public async Task DisposeAsync()
    {
        if (browser is not null)
            await browser.DisposeAsync();
        playwright?.Dispose();
        if (app is { HasExited: false })
        {
            app.Kill(entireProcessTree: true);
            await app.WaitForExitAsync();
        }
        app?.Dispose();
        work.Dispose();
    }
}
