using SrMobile.Contracts;

namespace SrMobile.Tests;

/// <summary>Submits expand their grid in the background: tests that count candidates wait for it first.</summary>
public static class SearchExpansion
{
    public static async Task<SearchStatus> Expanded(ISearchGrain search)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        SearchStatus status;
        while ((status = await search.Status()).Expanded < status.Candidates && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.True(status.Expanded == status.Candidates, $"{status.Expanded} of {status.Candidates} candidates created");
        return status;
    }
}
