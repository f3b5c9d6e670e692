namespace Grid.Core.Files;

/// <summary>What a path names, as the file system says before anything is opened (symbolic links followed).</summary>
public enum FileKind
{
    /// <summary>Nothing at the path (or a folder on the way is missing).</summary>
    Missing,

    /// <summary>A regular file: the only kind an input file may be.</summary>
    Regular,

    Directory,

    /// <summary>A named pipe: opening it for reading blocks until a writer comes, which may be never.</summary>
    Fifo,

    Socket,

    /// <summary>A character device such as /dev/zero or a terminal: reads never end or block.</summary>
    CharacterDevice,

    BlockDevice,

    /// <summary>A symbolic link that leads back to itself (the system gave up following it).</summary>
    SymbolicLinkLoop,

    /// <summary>The kind could not be read (no permission on a folder on the way, or a platform without statx).</summary>
    Unknown,
}
