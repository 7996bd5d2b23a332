import {useStdout} from 'ink';
import {useEffect, useState} from 'react';

export interface TerminalSize {
	readonly columns: number;
	readonly rows: number;
}

// Some PTYs (script, docker exec without a size) and test renderers report 0 or nothing.
const FALLBACK: TerminalSize = {columns: 80, rows: 24};

const sizeOf = (stdout: NodeJS.WriteStream): TerminalSize => ({
	columns: stdout.columns > 0 ? stdout.columns : FALLBACK.columns,
	rows: stdout.rows > 0 ? stdout.rows : FALLBACK.rows,
});

/** Ink 6 re-lays out on resize but does not re-render readers of stdout's size: keep it in state. */
export function useTerminalSize(): TerminalSize {
	const {stdout} = useStdout();
	const [size, setSize] = useState(() => sizeOf(stdout));
	useEffect(() => {
		const update = () => setSize(sizeOf(stdout));
		stdout.on('resize', update);
		return () => {
			stdout.off('resize', update);
		};
	}, [stdout]);
	return size;
}
