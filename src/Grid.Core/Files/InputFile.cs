using System.Runtime.InteropServices;
using Grid.Core.Settings;

namespace Grid.Core.Files;

/// <summary>
/// Checks on a path a command is about to read, made without opening it: opening a FIFO for reading blocks until a
/// writer comes, and a device such as /dev/zero never ends. The kind comes from <c>statx</c> (symbolic links followed).
/// </summary>
public static class InputFile
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxBufferBytes = 256;
    private const int StatxModeOffset = 28;
    private const int ENOENT = 2, ENOTDIR = 20, ELOOP = 40;

    /// <summary>What <paramref name="path"/> names; <see cref="FileKind.Unknown"/> when the system cannot say.</summary>
    public static FileKind KindOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Contains('\0') || !OperatingSystem.IsLinux())
        {
            return path.Contains('\0') ? FileKind.Missing : Fallback(path);
        }

        var buffer = new byte[StatxBufferBytes];
        int result;
        try
        {
            result = Statx(AtFdCwd, path, 0, StatxType, buffer);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return Fallback(path);
        }

        if (result != 0)
        {
            return Marshal.GetLastPInvokeError() switch
            {
                ENOENT or ENOTDIR => FileKind.Missing,
                ELOOP => FileKind.SymbolicLinkLoop,
                _ => FileKind.Unknown,
            };
        }

        int mode = BitConverter.ToUInt16(buffer, StatxModeOffset);
        return (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            _ => FileKind.Unknown,
        };
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot be read as a regular file (it holds a control character, or names a FIFO,
    /// socket, device, folder or a symbolic link loop), phrased to follow "it is"; null when it may be opened.
    /// A missing file is left to the caller, whose message says where it looked.
    /// </summary>
    public static string? Refusal(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Any(char.IsControl))
        {
            char c = path.First(char.IsControl);
            return $"a path with the control character U+{(int)c:X4} in it";
        }

        return KindOf(path) switch
        {
            FileKind.Fifo => "a FIFO (named pipe), not a regular file; it was not opened",
            FileKind.Socket => "a socket, not a regular file; it was not opened",
            FileKind.CharacterDevice => "a character device (like /dev/zero), not a regular file; it was not opened",
            FileKind.BlockDevice => "a block device, not a regular file; it was not opened",
            FileKind.Directory => "a folder, not a file",
            FileKind.SymbolicLinkLoop => "a symbolic link loop (too many levels of links)",
            _ => null,
        };
    }

    /// <summary>
    /// Refuses <paramref name="path"/> as the value of <paramref name="setting"/> unless it may be opened as a regular
    /// file (see <see cref="Refusal"/>).
    /// </summary>
    public static void RequireReadable(string path, string setting)
    {
        if (Refusal(path) is { } why)
        {
            throw new InvalidSettingException(setting, path, $"a regular file; it is {why}");
        }
    }

    /// <summary>Without statx: folders and files are told apart, anything else is taken as a file.</summary>
    private static FileKind Fallback(string path) =>
        Directory.Exists(path) ? FileKind.Directory : File.Exists(path) ? FileKind.Regular : FileKind.Missing;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask,
        byte[] buffer);
}
