using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using SrMobile.Contracts;

namespace SrMobile.Query;

/// <summary>An answer of the API that is neither the result nor "not found": its status and what it said.</summary>
public sealed class SearchApiException(HttpStatusCode status, string message, IReadOnlyList<SpecError>? errors = null) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
    public IReadOnlyList<SpecError> Errors { get; } = errors ?? [];
}

/// <summary>
/// <see cref="ISearchService"/> over the coordinator's HTTP API (<c>srmobile search … --api URL</c>). Writes send
/// <paramref name="apiKey"/> in <see cref="ApiKeyHeader"/>. Candidate keys travel as one escaped path segment.
/// </summary>
public sealed class SearchApiClient(HttpClient http, string? apiKey = null) : ISearchService
{
    public const string ApiKeyHeader = "X-Api-Key";
    public const string Sha256Header = "X-Artifact-Sha256";

    public async Task<IReadOnlyList<SearchSummary>> Searches(CancellationToken cancellation = default) =>
        (await Get<List<SearchSummary>>("api/searches", cancellation))!;

    public Task<SearchOverview?> Overview(string name, CancellationToken cancellation = default) =>
        Get<SearchOverview>($"api/searches/{Segment(name)}", cancellation);

    public async Task<IReadOnlyList<FrontView>?> Fronts(string name, int? scale = null, string? device = null, CancellationToken cancellation = default)
    {
        var query = string.Join('&', new[]
        {
            scale is { } s ? $"scale={s.ToString(CultureInfo.InvariantCulture)}" : null,
            device is { } d ? $"device={Uri.EscapeDataString(d)}" : null,
        }.OfType<string>());
        return await Get<List<FrontView>>($"api/searches/{Segment(name)}/pareto{(query.Length > 0 ? "?" + query : "")}", cancellation);
    }

    public Task<CandidateDetail?> Candidate(string name, string key, CancellationToken cancellation = default) =>
        Get<CandidateDetail>($"api/searches/{Segment(name)}/candidates/{Segment(key)}", cancellation);

    public async Task<DevicesView> Devices(CancellationToken cancellation = default) =>
        (await Get<DevicesView>("api/devices", cancellation))!;

    public async Task<SubmitOutcome> Submit(string specText, CancellationToken cancellation = default)
    {
        using var request = Write(HttpMethod.Post, "api/searches");
        request.Content = new StringContent(specText, System.Text.Encoding.UTF8, "application/yaml");
        using var response = await http.SendAsync(request, cancellation);
        if (response.StatusCode == HttpStatusCode.BadRequest && await Problem(response, cancellation) is { } problem)
            return new SubmitOutcome(null, new SubmitResult(false, false, 0, problem.Errors));
        await Ensure(response, cancellation);
        return (await response.Content.ReadFromJsonAsync<SubmitOutcome>(SearchJson.Options, cancellation))!;
    }

    public async Task<bool> Cancel(string name, CancellationToken cancellation = default)
    {
        using var request = Write(HttpMethod.Post, $"api/searches/{Segment(name)}/cancel");
        using var response = await http.SendAsync(request, cancellation);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return false;
        await Ensure(response, cancellation);
        return true;
    }

    /// <summary>
    /// Downloads a candidate's artifact of <paramref name="kind"/> into <paramref name="folder"/> under the name the API
    /// gives, checks it against the SHA-256 the API sent, and returns its path; null when there is no such artifact.
    /// A mismatch deletes the file and throws <see cref="InvalidDataException"/>.
    /// </summary>
    public async Task<string?> Download(string name, string key, string kind, string folder, CancellationToken cancellation = default)
    {
        using var response = await http.GetAsync($"api/searches/{Segment(name)}/candidates/{Segment(key)}/artifacts/{Segment(kind)}",
            HttpCompletionOption.ResponseHeadersRead, cancellation);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        await Ensure(response, cancellation);
        var expected = response.Headers.TryGetValues(Sha256Header, out var values) ? values.Single() : throw new InvalidDataException($"the API sent no {Sha256Header} header");
        // The file name is the server's: only its last segment is taken, so it cannot climb out of the folder.
        var fileName = Path.GetFileName(response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName?.Trim('"') ?? "");
        if (string.IsNullOrEmpty(fileName) || fileName is "." or "..")
            fileName = kind;
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, fileName);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        string actual;
        await using (var file = File.Create(temporary))
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellation);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[81920];
            int read;
            while ((read = await body.ReadAsync(buffer, cancellation)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellation);
            }
            actual = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
        }
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(temporary);
            throw new InvalidDataException($"{kind} of {key}: the download's SHA-256 is {actual}, the API said {expected}");
        }
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    private async Task<T?> Get<T>(string path, CancellationToken cancellation) where T : class
    {
        using var response = await http.GetAsync(path, cancellation);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        await Ensure(response, cancellation);
        return await response.Content.ReadFromJsonAsync<T>(SearchJson.Options, cancellation);
    }

    private HttpRequestMessage Write(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        if (apiKey is not null)
            request.Headers.Add(ApiKeyHeader, apiKey);
        return request;
    }

    private static async Task Ensure(HttpResponseMessage response, CancellationToken cancellation)
    {
        if (response.IsSuccessStatusCode)
            return;
        var problem = await Problem(response, cancellation);
        throw new SearchApiException(response.StatusCode,
            $"{(int)response.StatusCode} {response.ReasonPhrase}: {problem?.Title ?? "no explanation"}{string.Concat((problem?.Errors ?? []).Select(e => $"; {e}"))}",
            problem?.Errors);
    }

    private static async Task<ApiProblem?> Problem(HttpResponseMessage response, CancellationToken cancellation)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<ApiProblem>(SearchJson.Options, cancellation);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException)
        {
            return null;
        }
    }

    private static string Segment(string value) => Uri.EscapeDataString(value);
}
