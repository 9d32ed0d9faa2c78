using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using SrMobile.Contracts;
using SrMobile.Query;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

/// <summary>The HTTP API, health and /metrics of a real coordinator on Kestrel (<see cref="ApiHost"/>).</summary>
public class ApiTests(ApiHost host) : IClassFixture<ApiHost>
{
    private HttpRequestMessage Post(string path, string? body = null, string? key = ApiHost.Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body ?? "") };
        if (key is not null)
            request.Headers.Add(SearchApiClient.ApiKeyHeader, key);
        return request;
    }

    [Fact]
    public async Task The_coordinator_serves_the_dashboard_with_its_own_scripts()
    {
        var page = await host.Http.GetStringAsync($"searches/{host.Search}");
        Assert.Contains($"<h1>{host.Search}", page);
        Assert.Contains("front-table", page);
        Assert.Contains(host.Finished.Key, page);
        // Offline: the framework's script and Plotly come from this process, not a CDN.
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("_framework/blazor.web.js")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("_content/Plotly.Blazor/plotly-3.7.0.min.js")).StatusCode);
        Assert.DoesNotContain("https://", page.Replace("https://learn", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reads_answer_with_what_the_cluster_holds()
    {
        var searches = await host.Get<List<SearchSummary>>("api/searches");
        var listed = Assert.Single(searches, s => s.Name == host.Search);
        Assert.Equal(1, listed.Status.Stages[CandidateStage.Done]);
        Assert.Equal(1, listed.Status.Stages[CandidateStage.Queued]);

        var overview = await host.Get<SearchOverview>($"api/searches/{host.Search}");
        Assert.Equal(2, overview.Status.Candidates);
        var front = Assert.Single(overview.Fronts);
        Assert.Equal((3, host.Device), (front.Scale, front.Device));
        Assert.Equal(host.Finished.Key, Assert.Single(front.Front).CandidateKey);
        Assert.NotEmpty(front.History);

        // The key as one escaped segment, as the rest of the path, and without the search's name: the same candidate.
        var escaped = await host.Get<CandidateDetail>($"api/searches/{host.Search}/candidates/{Uri.EscapeDataString(host.Finished.Key)}");
        var path = await host.Get<CandidateDetail>($"api/searches/{host.Search}/candidates/{host.Finished.Key[(host.Search.Length + 1)..]}");
        Assert.Equal(CandidateStage.Done, escaped.Candidate.Stage);
        Assert.Equal(escaped.Candidate.Key, path.Candidate.Key);
        Assert.Equal([JobStatus.Completed, JobStatus.Completed], escaped.Jobs.Select(j => j.Status));
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.GetAsync($"api/searches/{host.Search}/candidates/x9-m1-c1/none")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.GetAsync("api/searches/no-such-search")).StatusCode);

        var devices = await host.Get<DevicesView>("api/devices");
        Assert.True(Assert.Single(devices.Workers, w => w.Registration.DeviceKey == host.Device).Online);
        Assert.Equal(0, Assert.Single(devices.Pools, p => p.DeviceKey == host.Device).Queue.Queued);

        Assert.Contains("/api/searches/{name}/pareto", await host.Http.GetStringAsync("openapi/v1.json"));
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("healthz/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("healthz/ready")).StatusCode);
    }

    [Fact]
    public async Task The_pareto_csv_holds_the_json_fronts_points()
    {
        var json = await host.Get<List<FrontView>>($"api/searches/{host.Search}/pareto");
        var csv = await host.Http.GetStringAsync($"api/searches/{host.Search}/pareto?format=csv");
        using var accept = new HttpRequestMessage(HttpMethod.Get, $"api/searches/{host.Search}/pareto");
        accept.Headers.Accept.ParseAdd("text/csv");
        Assert.Equal(csv, await (await host.Http.SendAsync(accept)).Content.ReadAsStringAsync());
        var rows = csv.TrimEnd('\n').Split('\n');
        Assert.Equal(FrontCsv.Header, rows[0]);
        var expected = json.SelectMany(f => f.Front.Select(p => string.Join(',', f.Scale.ToString(CultureInfo.InvariantCulture), f.Device, p.CandidateKey,
            p.Psnr.ToString("R", CultureInfo.InvariantCulture), p.MedianMs.ToString("R", CultureInfo.InvariantCulture), p.MaiScore.ToString("R", CultureInfo.InvariantCulture))));
        Assert.Equal(expected, rows.Skip(1));
        Assert.Single(rows.Skip(1));
        Assert.Equal(host.Measurement.MedianMs, json.Single().Front.Single().MedianMs);
        Assert.Empty(await host.Get<List<FrontView>>($"api/searches/{host.Search}/pareto?scale=2"));
        Assert.Single(await host.Get<List<FrontView>>($"api/searches/{host.Search}/pareto?scale=3&device={host.Device}"));
    }

    [Fact]
    public async Task A_refused_spec_is_a_400_with_every_error_and_its_field_and_stores_nothing()
    {
        var name = $"bad-{Guid.NewGuid():N}"[..12];
        var response = await host.Http.SendAsync(Post("api/searches", $"name: {name}\nscales: [5]\ndepths: [0]\nwidths: [4]\nquantization: [{{kind: ptq}}]\ndevices: [tv]\n"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<ApiProblem>(SearchJson.Options))!;
        Assert.Contains(problem.Errors, e => e.Field == "scales[0]");
        Assert.Contains(problem.Errors, e => e.Field == "depths[0]");
        Assert.Contains(problem.Errors, e => e.Field.StartsWith("datasets", StringComparison.Ordinal));
        // The cluster's own limits come back the same way: a dataset outside every data root.
        var outside = await host.Http.SendAsync(Post("api/searches", host.Spec(name).Replace(host.Folder, "/elsewhere", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.BadRequest, outside.StatusCode);
        Assert.Contains((await outside.Content.ReadFromJsonAsync<ApiProblem>(SearchJson.Options))!.Errors, e => e.Field == "datasets.train");
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.GetAsync($"api/searches/{name}")).StatusCode);
        Assert.DoesNotContain(await host.Get<List<SearchSummary>>("api/searches"), s => s.Name == name);

        // JSON works as YAML does; the same spec again is 200, not another 201.
        var json = $$"""{"name": "{{name}}", "scales": [2], "depths": [1], "widths": [4], "quantization": [{"kind": "ptq"}], "datasets": {"train": "{{host.Folder}}/data"}, "devices": ["tv"]}""";
        Assert.Equal(HttpStatusCode.Created, (await host.Http.SendAsync(Post("api/searches", json))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Post("api/searches", json))).StatusCode);
    }

    [Fact]
    public async Task Device_tokens_are_issued_listed_and_revoked_with_a_key_and_refused_without_one()
    {
        var tokens = host.Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key);
        var before = (await tokens.List()).Count;
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Http.SendAsync(Post("api/devices/tokens", "{\"device_key\": \"tv\"}", key: null))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(Post("api/devices/tokens", "{\"device_key\": \"tv\"}", key: "wrong"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Http.GetAsync("api/devices/tokens")).StatusCode);
        Assert.Equal(before, (await tokens.List()).Count);

        var bad = await host.Http.SendAsync(Post("api/devices/tokens", "{\"expires_days\": 0}"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = (await bad.Content.ReadFromJsonAsync<ApiProblem>(SearchJson.Options))!;
        Assert.Equal(["device_key", "expires_days"], problem.Errors.Select(e => e.Field));

        var created = await host.Http.SendAsync(Post("api/devices/tokens", "{\"device_key\": \"tv\", \"expires_days\": 7}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var issued = (await created.Content.ReadFromJsonAsync<IssuedDeviceToken>(SearchJson.Options))!;
        Assert.True((await tokens.Check(issued.Secret)).Valid);
        Assert.Equal(TimeSpan.FromDays(7), issued.Token.ExpiresUtc - issued.Token.CreatedUtc);

        var list = new HttpRequestMessage(HttpMethod.Get, "api/devices/tokens");
        list.Headers.Add(SearchApiClient.ApiKeyHeader, ApiHost.Key);
        var listed = await (await host.Http.SendAsync(list)).Content.ReadAsStringAsync();
        Assert.Contains(issued.Token.Id, listed);
        Assert.DoesNotContain(issued.Secret, listed);

        Assert.Equal(HttpStatusCode.NoContent, (await host.Http.SendAsync(Post($"api/devices/tokens/{issued.Token.Id}/revoke"))).StatusCode);
        Assert.False((await tokens.Check(issued.Secret)).Valid);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.SendAsync(Post("api/devices/tokens/nope/revoke"))).StatusCode);
    }

    [Fact]
    public async Task Writes_without_the_right_key_are_refused_and_change_nothing()
    {
        var name = $"auth-{Guid.NewGuid():N}"[..13];
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Http.SendAsync(Post("api/searches", host.Spec(name), key: null))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(Post("api/searches", host.Spec(name), key: "wrong"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.GetAsync($"api/searches/{name}")).StatusCode);

        Assert.Equal(HttpStatusCode.Created, (await host.Http.SendAsync(Post("api/searches", host.Spec(name)))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Http.SendAsync(Post($"api/searches/{name}/cancel", key: null))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(Post($"api/searches/{name}/cancel", key: "wrong"))).StatusCode);
        Assert.False((await host.Get<SearchOverview>($"api/searches/{name}")).Status.Cancelled);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Post($"api/searches/{name}/cancel"))).StatusCode);
        Assert.True((await host.Get<SearchOverview>($"api/searches/{name}")).Status.Cancelled);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.SendAsync(Post("api/searches/no-such-search/cancel"))).StatusCode);
    }

    [Fact]
    public async Task The_model_downloads_with_the_sha256_it_was_stored_with()
    {
        var stored = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(new Uri(host.Model.Uri).LocalPath))).ToLowerInvariant();
        foreach (var key in new[] { Uri.EscapeDataString(host.Finished.Key) + "/artifacts/int8-onnx", host.Finished.Key + "/artifacts/int8-onnx" })
        {
            using var response = await host.Http.GetAsync($"api/searches/{host.Search}/candidates/{key}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var bytes = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(stored, response.Headers.GetValues(SearchApiClient.Sha256Header).Single());
            Assert.Equal(stored, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant());
        }
        using var folder = SrMobile.Tests.TestData.NewTemporaryFolder();
        var path = await new SearchApiClient(host.Http).Download(host.Search, host.Finished.Key, ArtifactKinds.Int8Onnx, folder.Path);
        Assert.Equal("model.int8.onnx", Path.GetFileName(path));
        Assert.Equal(stored, host.Model.Sha256);
        Assert.Null(await new SearchApiClient(host.Http).Download(host.Search, host.Queued.Key, ArtifactKinds.Int8Onnx, folder.Path));
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.GetAsync($"api/searches/{host.Search}/candidates/{host.Finished.Key}/artifacts/float-checkpoint")).StatusCode);
    }

    [Fact]
    public async Task A_metrics_scrape_holds_our_instruments_with_the_clusters_values_and_passes_promtool()
    {
        string scrape = "";
        await ApiHost.WaitFor(async () => (scrape = await host.Http.GetStringAsync("metrics")).Contains("srmobile_candidates", StringComparison.Ordinal), "the scrape has our gauges");
        var lines = scrape.Split('\n');
        double Value(string metric, params string[] labels)
        {
            var line = lines.SingleOrDefault(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && labels.All(label => l.Contains(label, StringComparison.Ordinal)));
            Assert.True(line is not null, $"no {metric} with {string.Join(", ", labels)} in the scrape:\n{scrape}");
            return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
        var search = $"search=\"{host.Search}\"";
        var pool = $"pool=\"device/{host.Device}\"";
        var instance = $"service_instance_id=\"{ApiHost.Instance}\"";
        Assert.Equal(1, Value("srmobile_candidates", search, "stage=\"done\"", instance));
        Assert.Equal(1, Value("srmobile_candidates", search, "stage=\"queued\""));
        Assert.Equal(0, Value("srmobile_candidates", search, "stage=\"failed\""));
        Assert.Equal(1, Value("srmobile_leases_granted_total", pool));
        Assert.Equal(0, Value("srmobile_queue_jobs", pool, "status=\"queued\""));
        Assert.Equal(1, Value("srmobile_measured_latency_seconds_count", $"device=\"{host.Device}\""));
        Assert.Equal(host.Measurement.MedianMs / 1000, Value("srmobile_measured_latency_seconds_sum", $"device=\"{host.Device}\""), 9);
        Assert.Equal(1, Value("srmobile_candidate_int8_psnr_decibels_count", "quantization=\"ptq\"", instance));
        Assert.Equal(1, Value("srmobile_device_workers", $"device=\"{host.Device}\"", "health=\"online\""));
        Assert.Contains(lines, l => l.StartsWith("orleans_", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("process_", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("dotnet_", StringComparison.Ordinal));

        // Debian's prometheus package brings promtool (.ci/run installs it). Its lint is held to our own series (with their
        // HELP and TYPE lines); Orleans' and the runtime's names (milliseconds, *_count gauges) are theirs, not ours to fix.
        var ours = string.Join('\n', lines.Where(l => l.StartsWith("srmobile_", StringComparison.Ordinal) || l.StartsWith("# HELP srmobile_", StringComparison.Ordinal)
            || l.StartsWith("# TYPE srmobile_", StringComparison.Ordinal) || l.StartsWith("# UNIT srmobile_", StringComparison.Ordinal))) + "\n";
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        Assert.True(promtool is not null, "promtool is missing: apt-get install -y prometheus");
        using var check = Process.Start(new ProcessStartInfo(promtool, "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await check.StandardInput.WriteAsync(ours);
        check.StandardInput.Close();
        var output = await check.StandardOutput.ReadToEndAsync() + await check.StandardError.ReadToEndAsync();
        await check.WaitForExitAsync();
        Assert.True(check.ExitCode == 0, output);
    }

    [Fact]
    public async Task A_real_prometheus_server_scraping_the_silo_returns_our_series_through_its_query_api()
    {
        var server = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists);
        Assert.True(server is not null, "prometheus is missing: apt-get install -y prometheus");
        using var work = TestData.NewTemporaryFolder();
        var port = TestData.FreePort();
        File.WriteAllText(work.File("prometheus.yml"), $$"""
            global: {scrape_interval: 1s, scrape_timeout: 1s}
            scrape_configs:
              - job_name: srmobile
                static_configs: [{targets: ["{{host.Http.BaseAddress!.Authority}}"]}]
            """);
        using var prometheus = Process.Start(new ProcessStartInfo(server,
            [$"--config.file={work.File("prometheus.yml")}", $"--storage.tsdb.path={work.File("data")}", $"--web.listen-address=127.0.0.1:{port}"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        prometheus.ErrorDataReceived += (_, _) => { };
        prometheus.OutputDataReceived += (_, _) => { };
        prometheus.BeginErrorReadLine();
        prometheus.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            var query = Uri.EscapeDataString($"srmobile_candidates{{search=\"{host.Search}\",stage=\"done\"}}");
            string answer = "";
            await ApiHost.WaitFor(async () =>
            {
                try
                {
                    answer = await http.GetStringAsync($"api/v1/query?query={query}");
                    return answer.Contains(host.Search, StringComparison.Ordinal);
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "prometheus has scraped our series");
            using var json = System.Text.Json.JsonDocument.Parse(answer);
            var result = Assert.Single(json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray());
            Assert.Equal(ApiHost.Instance, result.GetProperty("metric").GetProperty("service_instance_id").GetString());
            Assert.Equal("1", result.GetProperty("value")[1].GetString());
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
        }
    }
}
