namespace SrMobile.Engine;

/// <summary>
/// Input the user can fix (a file, a field, a value). The CLI prints the message alone and exits non-zero,
/// so the message must name what is wrong and where.
/// </summary>
public sealed class BadInputException(string message, Exception? inner = null) : Exception(message, inner);
