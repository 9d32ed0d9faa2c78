namespace SrMobile.Grains.Storage;

public static class PersistentStateExtensions
{
    /// <summary>
    /// Writes <paramref name="state"/>; when the write fails, <paramref name="grain"/> deactivates before the error goes
    /// on, since its memory now holds what storage may not: the next call starts again from storage.
    /// </summary>
    public static async Task WriteOrDeactivate<T>(this IPersistentState<T> state, IGrainBase grain)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            grain.DeactivateOnIdle();
            throw;
        }
    }
}
